"""Data sources: the IDX reader on files the test writes, class subsets, real MNIST, TFDS errors."""

import gzip
import hashlib
import json
import os
import re
import shutil
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from helpers import MNIST_DIR, write_idx_dir

from tfmixup import datasets
from tfmixup.datasets import DataError, DataUnavailableError, IdxFormatError, read_idx, write_idx

# MNIST as TFDS 4.9.10 prepares it (mnist 3.0.1), beside the IDX files (see
# ../shared/tfds/README.md). Tests that need it fail, not skip, when it is missing.
TFDS_DIR = os.path.join(os.path.dirname(MNIST_DIR), "tfds")


class IdxTest(tf.test.TestCase):
  def test_round_trip_plain_and_gzip(self):
    images = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
      path = os.path.join(self.get_temp_dir(), name)
      write_idx(path, images)
      self.assertAllEqual(read_idx(path, 3), images)
    labels_path = os.path.join(self.get_temp_dir(), "l-idx1-ubyte")
    write_idx(labels_path, np.array([3, 1, 4]))
    self.assertAllEqual(read_idx(labels_path, 1), [3, 1, 4])

  def _write(self, name, payload):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "wb") as f:
      f.write(payload)
    return path

  def test_wrong_magic(self):
    labels = self._write("labels", bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes(3))
    with self.assertRaisesRegex(IdxFormatError, "magic number 0x00000801, expected 0x00000803"):
      read_idx(labels, 3)
    floats = self._write("floats", bytes([0, 0, 0x0D, 1]) + (1).to_bytes(4, "big") + bytes(4))
    with self.assertRaisesRegex(IdxFormatError, "magic number 0x00000d01"):
      read_idx(floats, 1)

  def test_truncated_and_oversized(self):
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 4, 4))
    with self.assertRaisesRegex(IdxFormatError, r"truncated: header says shape \(2, 4, 4\)"):
      read_idx(self._write("short", header + bytes(31)), 3)
    with self.assertRaisesRegex(IdxFormatError, "trailing bytes"):
      read_idx(self._write("long", header + bytes(33)), 3)
    with self.assertRaisesRegex(IdxFormatError, "truncated header"):
      read_idx(self._write("head", header[:9]), 3)
    with self.assertRaisesRegex(IdxFormatError, "too short"):
      read_idx(self._write("empty", b""), 3)

  def test_corrupt_and_truncated_gzip(self):
    payload = gzip.compress(bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + bytes(range(100)))
    with self.assertRaisesRegex(IdxFormatError, "corrupt or truncated gzip"):
      read_idx(self._write("cut.gz", payload[: len(payload) // 2]), 1)
    corrupt = payload[:12] + bytes(b ^ 0xFF for b in payload[12:-8]) + payload[-8:]
    with self.assertRaisesRegex(IdxFormatError, "corrupt or truncated gzip"):
      read_idx(self._write("bad.gz", corrupt), 1)

  def test_missing_file_or_directory(self):
    directory = self.create_tempdir().full_path
    with self.assertRaisesRegex(IdxFormatError, r"missing\.gz: cannot read the file \(No such file or directory\)"):
      read_idx(os.path.join(directory, "missing.gz"), 3)
    with self.assertRaisesRegex(IdxFormatError, r"cannot read the file \(Is a directory\)"):
      read_idx(directory, 3)

  def test_count_mismatch(self):
    directory = self.get_temp_dir()
    write_idx_dir(directory, train=10)
    write_idx(os.path.join(directory, "train-labels-idx1-ubyte.gz"), np.zeros(9))
    with self.assertRaisesRegex(IdxFormatError, "10 images but 9 labels"):
      datasets.load_arrays("mnist", "train", data_dir=directory)


class LoadTest(tf.test.TestCase):
  def test_load_from_idx_dir(self):
    directory = self.get_temp_dir()
    write_idx_dir(directory, train=30, test=10, gz=False)
    data = datasets.load_arrays("mnist", "test", data_dir=directory)
    self.assertEqual(data.images.shape, (10, 28, 28, 1))
    self.assertEqual(data.images.dtype, np.uint8)
    self.assertAllEqual(data.labels, np.arange(10))
    ds = datasets.load("mnist", "train", data_dir=directory)
    image, label = next(iter(ds))
    self.assertEqual(image.shape, (28, 28, 1))
    self.assertEqual(image.dtype, tf.float32)
    self.assertAllInRange(image, 0.0, 1.0)
    self.assertEqual(int(label), 0)

  def test_subset_relabels_in_given_order(self):
    directory = self.get_temp_dir()
    write_idx_dir(directory, train=40)
    full = datasets.load_arrays("mnist", "train", data_dir=directory)
    sub = datasets.load_arrays("mnist", "train", data_dir=directory, classes=(9, 6, 8))
    self.assertEqual(sub.class_names, ("9", "6", "8"))
    self.assertEqual(sub.source_classes, (9, 6, 8))
    self.assertEqual(sub.num_classes, 3)
    keep = np.isin(full.labels, [9, 6, 8])
    self.assertAllEqual(sub.images, full.images[keep])
    self.assertAllEqual(sub.labels, [{9: 0, 6: 1, 8: 2}[c] for c in full.labels[keep]])
    # A subset of a subset keeps the original names.
    subsub = datasets.select_classes(sub, (2, 0))
    self.assertEqual(subsub.class_names, ("8", "9"))
    self.assertEqual(subsub.source_classes, (8, 9))

  def test_bad_subsets_and_splits(self):
    directory = self.get_temp_dir()
    write_idx_dir(directory, train=20)
    for classes, message in (((6, 6), "repeats"), ((3, 12), r"\[12\] are not in this dataset"), ((), "empty")):
      with self.assertRaisesRegex(DataError, message):
        datasets.load_arrays("mnist", "train", data_dir=directory, classes=classes)
    with self.assertRaisesRegex(DataError, "split must be one of"):
      datasets.load_arrays("mnist", "validation", data_dir=directory)

  def test_missing_data_dir_fails_at_once(self):
    with self.assertRaisesRegex(DataUnavailableError, "is not a directory"):
      datasets.load_arrays("mnist", data_dir=os.path.join(self.get_temp_dir(), "nope"))
    empty = self.create_tempdir().full_path
    with self.assertRaisesRegex(DataUnavailableError, "neither the four IDX files .* nor a TFDS copy"):
      datasets.load_arrays("mnist", data_dir=empty)

  def test_offline_download_is_one_clear_error(self):
    import tensorflow_datasets as tfds  # noqa: PLC0415

    failure = ConnectionError("Name or service not known")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", side_effect=failure):
      with self.assertRaisesRegex(
        DataUnavailableError, r"could not download it \(ConnectionError\).*data_dir.*internet"
      ):
        datasets.load_arrays("mnist", data_dir=self.create_tempdir().full_path, download=True)

  def test_unknown_tfds_name(self):
    with self.assertRaisesRegex(DataError, "TFDS has no dataset named 'no_such_dataset'"):
      datasets.load_arrays("no_such_dataset", data_dir=self.create_tempdir().full_path)


@pytest.mark.real_data
class RealMnistTest(tf.test.TestCase):
  """Reads ../shared/mnist; fails (does not skip) when it is missing."""

  def test_real_mnist(self):
    self.assertTrue(os.path.isdir(MNIST_DIR), f"real MNIST expected at {MNIST_DIR}")
    train = datasets.load_arrays("mnist", "train", data_dir=MNIST_DIR)
    test = datasets.load_arrays("mnist", "test", data_dir=MNIST_DIR)
    self.assertEqual(train.images.shape, (60000, 28, 28, 1))
    self.assertEqual(train.images.ctypes.data % 64, 0)  # aligned: the stages adopt it uncopied
    self.assertEqual(test.images.shape, (10000, 28, 28, 1))

    # What the reader returns, re-serialized with its IDX header, has the
    # official sha256 of the uncompressed files (../shared/mnist/README.md).
    def content_sha(array, magic):
      header = bytes([0, 0, 8, magic]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
      return hashlib.sha256(header + array.tobytes()).hexdigest()

    self.assertEqual(
      content_sha(test.images[..., 0], 3), "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    )
    self.assertEqual(
      content_sha(test.labels.astype(np.uint8), 1), "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    )
    self.assertEqual(
      content_sha(train.images[..., 0], 3), "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    )
    self.assertAllEqual(np.bincount(train.labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    sub = datasets.select_classes(train, (6, 8, 9))
    self.assertEqual(len(sub), 5918 + 5851 + 5949)
    self.assertAllEqual(np.bincount(sub.labels), [5918, 5851, 5949])


def _multiset(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """The (image, label) pairs as sorted byte rows: equal exactly when the multisets are."""
  rows = np.concatenate([images.reshape(len(images), -1), labels.astype(np.uint8)[:, np.newaxis]], axis=1)
  return np.sort(np.ascontiguousarray(rows).view(f"V{rows.shape[1]}").ravel())


@pytest.mark.real_data
class TfdsMnistTest(tf.test.TestCase):
  """Loads MNIST through TFDS from ../shared/tfds; fails (does not skip) when it is missing."""

  def setUp(self):
    super().setUp()
    self.assertTrue(os.path.isdir(TFDS_DIR), f"TFDS-prepared MNIST expected at {TFDS_DIR}")

  @pytest.mark.slow
  def test_same_examples_as_the_idx_files(self):
    for split, count in (("train", 60000), ("test", 10000)):
      data = datasets.load_arrays("mnist", split, data_dir=TFDS_DIR)
      self.assertEqual(data.images.shape, (count, 28, 28, 1))
      self.assertEqual(data.images.dtype, np.uint8)
      self.assertEqual(data.labels.dtype, np.int64)
      self.assertEqual(data.class_names, tuple("0123456789"))
      self.assertEqual(data.source_classes, tuple(range(10)))
      idx_data = datasets.load_arrays("mnist", split, data_dir=MNIST_DIR)
      # Same multiset of (image, label) pairs, in another order.
      self.assertTrue(np.array_equal(_multiset(data.images, data.labels), _multiset(idx_data.images, idx_data.labels)))

  def test_load_gives_normalized_dataset(self):
    ds = datasets.load("mnist", "test", data_dir=TFDS_DIR)
    self.assertEqual(ds.element_spec[0], tf.TensorSpec((28, 28, 1), tf.float32))
    self.assertEqual(ds.element_spec[1], tf.TensorSpec((), tf.int64))
    images, labels = next(iter(ds.batch(10000)))
    arrays = datasets.load_arrays("mnist", "test", data_dir=TFDS_DIR)
    self.assertAllClose(images, arrays.images / np.float32(255), rtol=0, atol=1e-7)
    self.assertAllEqual(labels, arrays.labels)

  def test_class_subset_relabels(self):
    sub = datasets.load_arrays("mnist", "test", data_dir=TFDS_DIR, classes=(6, 8, 9))
    self.assertEqual(sub.class_names, ("6", "8", "9"))
    self.assertEqual(sub.source_classes, (6, 8, 9))
    self.assertAllEqual(np.bincount(sub.labels), [958, 974, 1009])  # MNIST test counts of 6, 8, 9
    idx_data = datasets.load_arrays("mnist", "test", data_dir=MNIST_DIR)
    keep = np.isin(idx_data.labels, [6, 8, 9])
    relabelled = np.array([{6: 0, 8: 1, 9: 2}[c] for c in idx_data.labels[keep]])
    self.assertTrue(np.array_equal(_multiset(sub.images, sub.labels), _multiset(idx_data.images[keep], relabelled)))


@pytest.mark.real_data
class TfdsDamageTest(tf.test.TestCase):
  """A damaged local TFDS file is one DataUnavailableError that names it, not a download failure."""

  def setUp(self):
    super().setUp()
    self.assertTrue(os.path.isdir(TFDS_DIR), f"TFDS-prepared MNIST expected at {TFDS_DIR}")
    # Fail at once, rather than after TFDS's minutes of retries, if TFDS tries the network.
    import tensorflow_datasets as tfds  # noqa: PLC0415

    no_network = AssertionError("the test made TFDS download")
    self.enter_context(mock.patch.object(tfds.download.DownloadManager, "_download", side_effect=no_network))

  def _copy(self) -> tuple[str, str]:
    """A writable copy of ../shared/tfds; returns it and its mnist/3.0.1 directory."""
    data_dir = self.create_tempdir().full_path
    version_dir = os.path.join(data_dir, "mnist", "3.0.1")
    os.makedirs(version_dir)
    source = os.path.join(TFDS_DIR, "mnist", "3.0.1")
    for name in os.listdir(source):
      shutil.copyfile(os.path.join(source, name), os.path.join(version_dir, name))
    return data_dir, version_dir

  def _error(self, data_dir: str, **kwargs) -> str:
    with self.assertRaises(DataUnavailableError) as caught:
      datasets.load_arrays("mnist", "test", data_dir=data_dir, **kwargs)
    message = str(caught.exception)
    self.assertNotIn("\n", message)
    self.assertNotIn("could not download", message)
    return message

  def test_damaged_shard_is_named(self):
    def flip(data):
      return data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :]

    for damage, edit, reason in (
      ("flipped byte", flip, r"is corrupt or truncated \(corrupted record at \d+\)"),
      ("truncated", lambda data: data[: len(data) // 2], r"is corrupt or truncated \(truncated record at \d+\)"),
      ("emptied", lambda data: b"", "holds 0 records, dataset_info.json says 10000"),
      ("deleted", None, "is missing"),
    ):
      with self.subTest(damage):
        data_dir, version_dir = self._copy()
        shard = os.path.join(version_dir, "mnist-test.tfrecord-00000-of-00001")
        if edit is None:
          os.remove(shard)
        else:
          with open(shard, "rb") as f:
            data = f.read()
          with open(shard, "wb") as f:
            f.write(edit(data))
        message = self._error(data_dir)
        self.assertRegex(message, f"is damaged: {re.escape(shard)} {reason}\\. Delete that directory")

  def test_incomplete_copy_is_named(self):
    data_dir, version_dir = self._copy()
    os.remove(os.path.join(version_dir, "dataset_info.json"))
    for download in (False, True):
      message = self._error(data_dir, download=download)
      self.assertRegex(message, f"^{re.escape(version_dir)} is an incomplete TFDS copy of 'mnist' \\(no dataset_info")

  def test_unparsable_dataset_info_is_named(self):
    data_dir, version_dir = self._copy()
    info = os.path.join(version_dir, "dataset_info.json")
    with open(info) as f:
      text = f.read()
    with open(info, "w") as f:
      f.write(text[: len(text) // 2])
    message = self._error(data_dir)
    self.assertRegex(message, f"^TFDS cannot parse {re.escape(info)} \\(Failed to load JSON: .*\\): delete ")

  def test_manual_download_with_wrong_checksum_is_named(self):
    data_dir = self.create_tempdir().full_path
    manual = os.path.join(data_dir, "downloads", "manual")
    os.makedirs(manual)
    for name in os.listdir(MNIST_DIR):
      if name.endswith(".gz"):
        shutil.copyfile(os.path.join(MNIST_DIR, name), os.path.join(manual, name))
    altered = os.path.join(manual, "t10k-labels-idx1-ubyte.gz")
    with open(altered, "ab") as f:
      f.write(b"\0")
    message = self._error(data_dir, download=True)
    self.assertRegex(
      message,
      f"^{re.escape(altered)} is not the file TFDS expects for 'mnist' \\(sha256 [0-9a-f]{{64}}, expected"
      " f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6\\): replace it",
    )

  def test_truncated_cached_download_is_named(self):
    from tensorflow_datasets.core.download import resource  # noqa: PLC0415

    # The downloads/ cache as TFDS leaves it: each archive named by its URL and
    # registered sha256, beside a .INFO file. TFDS does not hash these again.
    data_dir = self.create_tempdir().full_path
    downloads = os.path.join(data_dir, "downloads")
    os.makedirs(downloads)
    registered = {
      "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
      "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
      "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
      "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
    for name, sha256 in registered.items():
      url = f"https://storage.googleapis.com/cvdf-datasets/mnist/{name}"
      path = os.path.join(downloads, resource.get_dl_fname(url, sha256))
      with open(os.path.join(MNIST_DIR, name), "rb") as f:
        data = f.read()
      if name == "t10k-labels-idx1-ubyte.gz":
        data, truncated = data[: len(data) // 2], path
      with open(path, "wb") as f:
        f.write(data)
      with open(path + ".INFO", "w") as f:
        json.dump({"urls": [url], "dataset_names": ["mnist"], "original_fname": name}, f)
    message = self._error(data_dir, download=True)
    self.assertRegex(
      message,
      f"^cannot prepare 'mnist': ExtractError: Error while extracting {re.escape(truncated)} to .*\\. The archive is"
      " truncated or corrupt .*: delete it",
    )
