"""Reader for the IDX format that MNIST, Fashion-MNIST and KMNIST ship in.

An IDX file is a big-endian header followed by raw data:

  bytes 0-1   zero
  byte  2     data type code (0x08 = unsigned byte, the only one used here)
  byte  3     number of dimensions, d
  4*d bytes   each dimension's size as a big-endian uint32
  rest        prod(sizes) items of the data type

Images are `0x00000803` (d = 3: count, rows, cols) and labels `0x00000801`
(d = 1: count). Files may be gzip-compressed (`.gz`, detected by content).
"""

import gzip
import os
import zlib

import numpy as np

from tfmixup.datasets.errors import IdxFormatError

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08
IMAGES_NDIM = 3
LABELS_NDIM = 1


_CHUNK = 1 << 20
# TensorFlow needs 64-byte aligned memory to use a buffer without copying it.
TENSOR_ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
  """An uninitialized C-contiguous array whose data is 64-byte aligned."""
  nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
  buffer = np.empty(nbytes + TENSOR_ALIGNMENT, np.uint8)
  offset = -buffer.ctypes.data % TENSOR_ALIGNMENT
  return buffer[offset : offset + nbytes].view(dtype).reshape(shape)


def _content_size(path: str) -> tuple[int, bool]:
  """(size of the content, gzipped?): exact for plain files, mod 2**32 for gzip (its trailer)."""
  with open(path, "rb") as f:
    if f.read(2) != _GZIP_MAGIC:
      return os.path.getsize(path), False
    f.seek(-4, os.SEEK_END)
    return int.from_bytes(f.read(4), "little"), True


def _read_exactly(stream, view: memoryview) -> int:
  """Fills `view` from `stream`; returns the number of bytes read (less at EOF)."""
  filled = 0
  while filled < len(view):
    # Bounded chunks: gzip's readinto builds a bytes object of the size asked.
    n = stream.readinto(view[filled : filled + _CHUNK])
    if not n:
      break
    filled += n
  return filled


def read_idx(path: str | os.PathLike, expected_ndim: int) -> np.ndarray:
  """Reads one unsigned-byte IDX file.

  Args:
    path: the file, plain or gzip-compressed.
    expected_ndim: 3 for an images file, 1 for a labels file.

  Returns:
    A uint8 array of the header's shape: `[count, rows, cols]` for images,
    `[count]` for labels.

  Raises:
    IdxFormatError: the file cannot be read (missing, a directory, no
      permission), the magic number, dimension count or data size is not
      what the header and `expected_ndim` require, or the gzip data is
      corrupt.
  """
  path = os.fspath(path)
  try:
    size, gzipped = _content_size(path)
  except OSError as e:  # missing, a directory, unreadable: not a gzip problem
    raise IdxFormatError(f"{path}: cannot read the file ({e.strerror or e})") from e
  try:
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as stream:
      return _read_stream(stream, path, expected_ndim, size, gzipped)
  except (OSError, EOFError, zlib.error) as e:  # gzip's errors for corrupt data
    raise IdxFormatError(f"{path}: corrupt or truncated gzip data ({e})") from e


def _read_stream(stream, path: str, expected_ndim: int, size: int, gzipped: bool) -> np.ndarray:
  # The data is decompressed straight into its final, aligned array: no
  # second copy of the file in memory, and TensorFlow can adopt the array.
  magic_bytes = stream.read(4)
  if len(magic_bytes) < 4:
    raise IdxFormatError(f"{path}: {len(magic_bytes)} bytes is too short for an IDX header")
  zero, dtype_code, ndim = int.from_bytes(magic_bytes[:2], "big"), magic_bytes[2], magic_bytes[3]
  expected_magic = (_UBYTE << 8) | expected_ndim
  magic = int.from_bytes(magic_bytes, "big")
  if zero != 0 or dtype_code != _UBYTE or ndim != expected_ndim:
    raise IdxFormatError(
      f"{path}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x}"
      f" (unsigned bytes, {expected_ndim} dimension(s))"
    )
  dims = stream.read(4 * ndim)
  if len(dims) < 4 * ndim:
    raise IdxFormatError(f"{path}: truncated header ({4 + len(dims)} bytes)")
  shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
  header_size = 4 + 4 * ndim
  expected_size = header_size + int(np.prod(shape, dtype=np.int64))
  # Check sizes before allocating what a corrupt header may claim.
  if gzipped and size != expected_size % 2**32:
    raise IdxFormatError(
      f"{path}: corrupt or truncated gzip data (it says {size} bytes; header says shape {shape}, {expected_size} bytes)"
    )
  if not gzipped and size != expected_size:
    kind = "truncated" if size < expected_size else "has trailing bytes"
    raise IdxFormatError(f"{path}: {kind}: header says shape {shape} ({expected_size} bytes), file holds {size} bytes")
  array = aligned_empty(shape)
  filled = _read_exactly(stream, memoryview(array.reshape(-1)))
  extra = len(stream.read(1 << 16)) if filled == array.size else 0
  if filled < array.size or extra:
    kind = "truncated" if filled < array.size else "has trailing bytes"
    held = f"{header_size + filled + extra}{'+' if extra == 1 << 16 else ''}"
    raise IdxFormatError(f"{path}: {kind}: header says shape {shape} ({expected_size} bytes), file holds {held} bytes")
  return array


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
  """Writes a uint8 array as an IDX file, gzip-compressed if `path` ends in .gz.

  The inverse of `read_idx`; used to build small datasets for tests and
  examples.

  Args:
    path: where to write.
    array: uint8 values of any rank from 1 to 255.
  """
  array = np.ascontiguousarray(array, dtype=np.uint8)
  header = bytes([0, 0, _UBYTE, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
  payload = header + array.tobytes()
  if os.fspath(path).endswith(".gz"):
    payload = gzip.compress(payload, compresslevel=1)
  with open(path, "wb") as f:
    f.write(payload)


def find_split_files(data_dir: str | os.PathLike, split: str) -> tuple[str, str] | None:
  """Finds the images and labels files of a split in a directory.

  Accepts the standard names (`train-images-idx3-ubyte`,
  `t10k-labels-idx1-ubyte`, ...), with a `.` instead of the last `-`, plain
  or `.gz`.

  Args:
    data_dir: directory to look in.
    split: "train" or "test" ("test" files are named `t10k-...`).

  Returns:
    `(images_path, labels_path)`, or None when either file is missing.
  """
  prefix = {"train": "train", "test": "t10k"}[split]
  found = []
  for kind, ndim in (("images", IMAGES_NDIM), ("labels", LABELS_NDIM)):
    candidates = [
      os.path.join(data_dir, f"{prefix}-{kind}{sep}idx{ndim}-ubyte{ext}") for sep in ("-", ".") for ext in ("", ".gz")
    ]
    existing = [c for c in candidates if os.path.isfile(c)]
    if not existing:
      return None
    found.append(existing[0])
  return found[0], found[1]


def read_split(data_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
  """Reads one split of an IDX dataset directory.

  Args:
    data_dir: directory holding the four IDX files.
    split: "train" or "test".

  Returns:
    `(images uint8 [N, rows, cols], labels uint8 [N])`.

  Raises:
    IdxFormatError: a file is missing, malformed, or the counts differ.
  """
  paths = find_split_files(data_dir, split)
  if paths is None:
    raise IdxFormatError(f"{data_dir}: no IDX files for the {split!r} split")
  images = read_idx(paths[0], IMAGES_NDIM)
  labels = read_idx(paths[1], LABELS_NDIM)
  if images.shape[0] != labels.shape[0]:
    raise IdxFormatError(f"{data_dir}: {images.shape[0]} images but {labels.shape[0]} labels in the {split!r} split")
  return images, labels
