"""Data sources: the IDX reader on files the test writes, class subsets, real MNIST, TFDS errors."""

import gzip
import hashlib
import os
from unittest import mock

import numpy as np
import tensorflow as tf
from helpers import MNIST_DIR, write_idx_dir

from tfmixup import datasets
from tfmixup.datasets import DataError, DataUnavailableError, IdxFormatError, read_idx, write_idx


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
