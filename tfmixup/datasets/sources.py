"""Data sources: image-classification splits as in-memory arrays or tf.data.

Two sources, chosen per call:
  * a local directory holding the four standard IDX files (MNIST,
    Fashion-MNIST, KMNIST are distributed this way): used whenever
    `data_dir` holds them;
  * TensorFlow Datasets (`tfds.load`), which downloads on first use.

Both give the same thing: `ImageArrays`, uint8 images `[N, H, W, C]` and
int64 labels `[N]` held in memory, optionally restricted to a subset of the
classes and relabelled 0..k-1. MNIST is 47 MB as uint8; keeping it uint8 and
normalizing per batch is what lets the mixing stages gather batches cheaply.
"""

import dataclasses
import glob
import os
import re
import tempfile
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfmixup.datasets import idx
from tfmixup.datasets.errors import DataError, DataUnavailableError

SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class ImageArrays:
  """A labelled image split held in memory.

  Attributes:
    images: uint8 `[N, H, W, C]`, pixel values 0-255.
    labels: int64 `[N]`, values in `[0, num_classes)`.
    class_names: name of each label value, in label order.
    source_classes: the original label of each class (for a subset, the
      classes kept, in the order given; otherwise 0..K-1).
  """

  images: np.ndarray
  labels: np.ndarray
  class_names: tuple[str, ...]
  source_classes: tuple[int, ...]

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def __len__(self) -> int:
    return int(self.labels.shape[0])

  def __getitem__(self, index) -> "ImageArrays":
    """Examples selected as numpy selects rows: `train[:50_000]`, `train[mask]`, `train[[3, 1, 4]]`.

    Raises:
      TypeError: an index that picks one example (an int): use `images[i]`
        and `labels[i]`.
    """
    labels = self.labels[index]
    if np.ndim(labels) != 1:
      raise TypeError(
        "ImageArrays takes a slice, a boolean mask or an array of indices (the result is still a split);"
        " for one example use arrays.images[i] and arrays.labels[i]"
      )
    return dataclasses.replace(self, images=self.images[index], labels=labels)

  def take(self, count: int) -> "ImageArrays":
    """Returns the first `count` examples (all of them if fewer)."""
    return dataclasses.replace(self, images=self.images[:count], labels=self.labels[:count])

  def take_per_class(self, count: int) -> "ImageArrays":
    """Returns the first `count` examples of each class (all of a class if fewer), in their original order."""
    keep = np.zeros(len(self.labels), bool)
    for label in np.unique(self.labels):
      keep[np.flatnonzero(self.labels == label)[:count]] = True
    return dataclasses.replace(self, images=self.images[keep], labels=self.labels[keep])

  def to_dataset(self) -> tf.data.Dataset:
    """Returns a tf.data.Dataset of `(image float32 [H, W, C] in [0, 1], label int64)`."""
    ds = tf.data.Dataset.from_tensor_slices((self.images, self.labels))
    return ds.map(
      lambda image, label: (tf.cast(image, tf.float32) / 255.0, label),
      num_parallel_calls=tf.data.AUTOTUNE,
    )


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise DataError(f"split must be one of {SPLITS}, got {split!r}")


def select_classes(data: ImageArrays, classes: Sequence[int]) -> ImageArrays:
  """Keeps only some classes and relabels them 0..k-1 in the order given.

  Args:
    data: the full split.
    classes: original labels to keep, e.g. `(6, 8, 9)`; `classes[i]` becomes
      label `i`.

  Returns:
    The subset, with `class_names` and `source_classes` in the given order.

  Raises:
    DataError: `classes` is empty, repeats a class, or names one the data
      does not have.
  """
  classes = tuple(int(c) for c in classes)
  if not classes:
    raise DataError("classes is empty: name at least one class to keep")
  if len(set(classes)) != len(classes):
    raise DataError(f"classes {classes} repeats a class")
  unknown = [c for c in classes if not 0 <= c < data.num_classes]
  if unknown:
    raise DataError(f"classes {unknown} are not in this dataset (labels 0..{data.num_classes - 1})")
  # Lookup table from original label to new label (-1: dropped).
  relabel = np.full(data.num_classes, -1, dtype=np.int64)
  relabel[list(classes)] = np.arange(len(classes))
  new_labels = relabel[data.labels]
  keep = new_labels >= 0
  # Aligned, so the stages can use the subset without copying it.
  images = idx.aligned_empty((int(keep.sum()), *data.images.shape[1:]), data.images.dtype)
  np.compress(keep, data.images, axis=0, out=images)
  return ImageArrays(
    images=images,
    labels=new_labels[keep],
    class_names=tuple(data.class_names[c] for c in classes),
    source_classes=tuple(data.source_classes[c] for c in classes),
  )


def _from_idx(data_dir: str, split: str, name: str) -> ImageArrays:
  images, labels = idx.read_split(data_dir, split)
  num_classes = int(labels.max()) + 1 if labels.size else 0
  return ImageArrays(
    images=images[..., np.newaxis],
    labels=labels.astype(np.int64),
    class_names=_class_names(name, num_classes),
    source_classes=tuple(range(num_classes)),
  )


def _class_names(name: str, num_classes: int) -> tuple[str, ...]:
  """The class names TFDS gives dataset `name` (e.g. "T-shirt/top", ... for fashion_mnist), else "0", "1", ...

  Read from TFDS's description of the dataset (its code: nothing is downloaded).
  """
  digits = tuple(str(c) for c in range(num_classes))
  if name == "mnist":  # its names are its digits (and tensorflow_datasets is slow to import)
    return digits
  import tensorflow_datasets as tfds  # noqa: PLC0415 - needed only here and for TFDS data

  try:
    with tempfile.TemporaryDirectory() as empty:  # (the builder must not see, or make, a data directory)
      names = tuple(tfds.builder(name, data_dir=empty).info.features["label"].names)
  except Exception:  # noqa: BLE001 - not a TFDS name, or no label feature: the IDX files' digits
    names = ()
  return names if len(names) == num_classes else digits


def _from_tfds(name: str, split: str, data_dir: str | None, download: bool) -> ImageArrays:
  # Imported here: tensorflow_datasets is slow to import and not needed for
  # local IDX data. The two errors are not exported by TFDS.
  import tensorflow_datasets as tfds  # noqa: PLC0415
  from google.protobuf import json_format  # noqa: PLC0415
  from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError  # noqa: PLC0415
  from tensorflow_datasets.core.download.extractor import ExtractError  # noqa: PLC0415

  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except json_format.ParseError as e:  # TFDS found a prepared copy and could not read its dataset_info.json.
    unparsable = _unparsable_info_file(data_dir or tfds.core.constants.DATA_DIR, name)
    if unparsable is None:
      raise
    path, reason = unparsable
    raise DataUnavailableError(
      f"TFDS cannot parse {path} ({reason}): delete {os.path.dirname(path)} and prepare {name!r} again,"
      " or copy an intact one there"
    ) from e
  except Exception as e:  # TFDS raises several types for unknown names.
    raise DataError(f"TFDS has no dataset named {name!r} ({type(e).__name__})") from e
  if not builder.is_prepared() and os.path.isdir(builder.data_dir):
    # TFDS would take the directory for a prepared copy and fail on reading it.
    raise DataUnavailableError(
      f"{builder.data_dir} is an incomplete TFDS copy of {name!r} (no dataset_info.json): delete it and"
      " prepare it again, or copy an intact one there"
    )
  if not builder.is_prepared() and not download:
    raise DataUnavailableError(
      f"data_dir {data_dir!r} holds neither the four IDX files of the {split!r} split"
      f" (train-images-idx3-ubyte[.gz], ...) nor a TFDS copy of {name!r}; point it at"
      " such a directory, or allow TFDS to download into it (download=True, --download)"
    )
  try:
    builder.download_and_prepare()
  except NonMatchingChecksumError as e:
    # Raised for a file in downloads/manual/ (or a fresh download) whose sha256 is not the registered one.
    raise DataUnavailableError(_checksum_message(name, e)) from e
  except ExtractError as e:
    # TFDS trusts a cached download named by its checksum without hashing it again.
    raise DataUnavailableError(
      f"cannot prepare {name!r}: {_first_line(e)}. The archive is truncated or corrupt (TFDS does not hash a"
      " cached download again): delete it so that TFDS downloads it again, or replace it with an intact copy"
    ) from e
  except Exception as e:  # Network errors come in many types; all mean the same here.
    where = f"data_dir={data_dir!r} holds no IDX files, and " if data_dir else ""
    raise DataUnavailableError(
      f"cannot load {name!r}: {where}TFDS could not download it"
      f" ({type(e).__name__}). Either point data_dir (--data_dir) at a directory"
      " with the four IDX files (train-images-idx3-ubyte[.gz], ...), or run once"
      " with internet access so TFDS can download and cache it."
    ) from e
  try:
    images, labels = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, as_supervised=True))
  except (tf.errors.DataLossError, tf.errors.NotFoundError, tf.errors.FailedPreconditionError) as e:
    damage = _damaged_shards(builder, split)
    if not damage:
      raise
    raise DataUnavailableError(
      f"the TFDS copy of {name!r} in {builder.data_dir} is damaged: {'; '.join(damage)}. Delete that"
      " directory and prepare it again, or copy an intact one there"
    ) from e
  if images.ndim != 4 or images.dtype != np.uint8:
    raise DataError(
      f"{name!r} is not an image-classification dataset of uint8 [N, H, W, C]"
      f" images (got {images.dtype} {images.shape})"
    )
  label_feature = builder.info.features[builder.info.supervised_keys[1]]
  return ImageArrays(
    images=images,
    labels=labels.astype(np.int64),
    class_names=tuple(label_feature.names),
    source_classes=tuple(range(label_feature.num_classes)),
  )


def _first_line(error: BaseException) -> str:
  lines = str(error).strip().splitlines()
  return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _unparsable_info_file(root: str, name: str) -> tuple[str, str] | None:
  """The first dataset_info.json of `name` under `root` that TFDS cannot parse, and why."""
  from google.protobuf import json_format  # noqa: PLC0415
  from tensorflow_datasets.core import dataset_info  # noqa: PLC0415

  pattern = os.path.join(root, name.split(":", maxsplit=1)[0], "**", "dataset_info.json")
  for path in sorted(glob.glob(pattern, recursive=True)):
    try:
      dataset_info.read_from_json(path)
    except json_format.ParseError as e:
      return path, str(e).strip().splitlines()[0].rstrip(".")
  return None


def _checksum_message(name: str, error: Exception) -> str:
  # TFDS's message: "Artifact URL, downloaded to PATH, has wrong checksum:" then
  # the expected and the computed UrlInfo, one per line.
  text = str(error)
  path = re.search(r"downloaded to (.+?), has wrong checksum", text)
  sums = re.findall(r"checksum='([0-9a-f]+)'", text)
  if not path or len(sums) != 2:
    return f"cannot prepare {name!r}: {_first_line(error)}; delete the file it names, or replace it with the original"
  return (
    f"{path.group(1)} is not the file TFDS expects for {name!r} (sha256 {sums[1]}, expected {sums[0]}):"
    " replace it with the original file, or delete it so that TFDS downloads it (needs internet access)"
  )


def _damaged_shards(builder, split: str) -> list[str]:
  """Reads each record file of `split` once; returns what is wrong with each damaged one."""
  import tensorflow_datasets as tfds  # noqa: PLC0415

  if builder.info.file_format not in (None, tfds.core.FileFormat.TFRECORD):
    return []
  damage = []
  for shard in builder.info.splits[split].file_instructions:
    if not os.path.isfile(shard.filename):
      damage.append(f"{shard.filename} is missing")
      continue
    try:
      count = int(tf.data.TFRecordDataset(shard.filename).reduce(np.int64(0), lambda n, _: n + 1))
    except tf.errors.DataLossError as e:
      where = re.search(r"(corrupted|truncated) record at \d+", e.message)
      damage.append(f"{shard.filename} is corrupt or truncated ({where.group(0) if where else 'DataLossError'})")
      continue
    if count != shard.examples_in_shard:
      damage.append(f"{shard.filename} holds {count} records, dataset_info.json says {shard.examples_in_shard}")
  return damage


def load_arrays(
  name: str = "mnist",
  split: str = "train",
  *,
  data_dir: str | os.PathLike | None = None,
  classes: Sequence[int] | None = None,
  download: bool | None = None,
) -> ImageArrays:
  """Loads one split of an image-classification dataset into memory.

  IDX files in `data_dir` are used when present (the name is then only a
  label); otherwise TFDS loads `name` from `data_dir` (or its default
  directory), downloading it first if allowed. Offline, TFDS retries a failed
  download for about 3.5 minutes before giving up.

  Args:
    name: a TFDS dataset name: "mnist", "fashion_mnist", "kmnist", "cifar10", ...
    split: "train" or "test".
    data_dir: directory with IDX files, or the TFDS data directory.
    classes: original labels to keep, relabelled 0..k-1 in this order.
    download: let TFDS download a dataset it has not prepared. Default: only
      when `data_dir` is None, so a `data_dir` without data fails at once.

  Returns:
    The split as `ImageArrays`.

  Raises:
    DataError: bad split or classes, or a dataset that is not image
      classification.
    IdxFormatError: IDX files present but truncated or corrupt.
    DataUnavailableError: no local files and TFDS could not download; or a
      local TFDS file (prepared copy, download or its checksum) that TFDS
      cannot use, named in the message.
  """
  _check_split(split)
  data_dir = os.fspath(data_dir) if data_dir is not None else None
  if data_dir is not None and not os.path.isdir(data_dir):
    raise DataUnavailableError(f"data_dir {data_dir!r} is not a directory")
  if data_dir is not None and idx.find_split_files(data_dir, split) is not None:
    data = _from_idx(data_dir, split, name)
  else:
    data = _from_tfds(name, split, data_dir, download=data_dir is None if download is None else download)
  return select_classes(data, classes) if classes is not None else data


def load(
  name: str = "mnist",
  split: str = "train",
  *,
  data_dir: str | os.PathLike | None = None,
  classes: Sequence[int] | None = None,
  download: bool | None = None,
) -> tf.data.Dataset:
  """Loads one split as a tf.data.Dataset of normalized images.

  Same arguments and errors as `load_arrays`.

  Returns:
    A dataset of `(image float32 [H, W, C] in [0, 1], label int64)`.
  """
  return load_arrays(name, split, data_dir=data_dir, classes=classes, download=download).to_dataset()
