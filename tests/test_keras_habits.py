"""What a Keras user brings (issue 20): batched pipelines, TFDS feature dicts, channels-first arrays, slicing a
split, known class names from IDX files, and a peek at a stage that must not shift `fit`'s epochs."""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR, coded_arrays

from tfmixup import datasets
from tfmixup.datasets import DataError, ImageArrays


def pairs_dataset(size=16, shape=(5, 5, 1)):
  images = np.broadcast_to(np.arange(size, dtype=np.uint8).reshape(-1, 1, 1, 1), (size, *shape)).copy()
  return tf.data.Dataset.from_tensor_slices((images, np.arange(size) % 2))


class DatasetFormsTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters("mixup", "cutmix", "pair_sampling", "resizemix")
  def test_a_batched_dataset_gets_an_unbatch_hint(self, stage):
    with self.assertRaisesRegex(DataError, r"got uint8 of rank 4; the dataset looks batched: pass dataset.unbatch\(\)"):
      getattr(datasets, stage)(pairs_dataset().batch(4), batch_size=4, seed=0, num_classes=2)

  def test_tfds_feature_dicts_are_taken_as_image_label_pairs(self):
    pairs = pairs_dataset()
    dicts = pairs.map(lambda x, y: {"image": x, "label": y, "id": tf.constant("x")})
    for want, got in zip(
      datasets.mixup(pairs, batch_size=4, seed=3, num_classes=2),
      datasets.mixup(dicts, batch_size=4, seed=3, num_classes=2),
      strict=True,
    ):
      self.assertAllEqual(want[0], got[0])
      self.assertAllEqual(want[1], got[1])
    other = pairs.map(lambda x, y: {"pixels": x, "y": y})
    with self.assertRaisesRegex(DataError, r"dicts with keys \['pixels', 'y'\]: map them to \(image, label\) pairs"):
      datasets.mixup(other, batch_size=4, seed=0, num_classes=2)

  @parameterized.parameters(((1, 28, 28),), ((3, 32, 32),), ((4, 16, 16),))
  def test_channels_first_is_refused_on_both_paths(self, shape):
    images, labels = np.zeros((8, *shape), np.uint8), np.arange(8) % 2
    with self.assertRaisesRegex(DataError, r"^arrays: images look channels-first .*np.moveaxis\(images, 1, -1\)"):
      datasets.cutmix((images, labels), batch_size=4, seed=0, num_classes=2)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    with self.assertRaisesRegex(DataError, r"^dataset: images look channels-first"):
      datasets.mixup(dataset, batch_size=4, seed=0, num_classes=2)

  @parameterized.parameters(((28, 28, 1),), ((32, 32, 3),), ((3, 3, 3),), ((4, 4, 1),), ((2, 64, 1),))
  def test_channels_last_shapes_pass(self, shape):
    images, labels = np.zeros((8, *shape), np.uint8), np.arange(8) % 2
    x, _ = next(iter(datasets.mixup((images, labels), batch_size=4, seed=0, num_classes=2)))
    self.assertEqual(tuple(x.shape[1:]), shape)


class ImageArraysTest(tf.test.TestCase):
  def test_slices_masks_and_index_arrays_give_splits(self):
    data = coded_arrays(10, num_classes=3)
    head, tail = data[:7], data[7:]
    self.assertIsInstance(head, ImageArrays)
    self.assertAllEqual(head.labels, data.labels[:7])
    self.assertAllEqual(tail.images[:, 0, 0, 0], [7, 8, 9])
    self.assertEqual(head.class_names, data.class_names)
    self.assertAllEqual(data[data.labels == 1].images[:, 0, 0, 0], [1, 4, 7])
    self.assertAllEqual(data[[4, 0]].labels, [1, 0])
    with self.assertRaisesRegex(TypeError, "for one example use arrays.images"):
      data[3]

  @pytest.mark.real_data
  def test_idx_files_of_a_known_dataset_get_its_class_names(self):
    fashion = datasets.load_arrays("fashion_mnist", "test", data_dir=MNIST_DIR)  # (MNIST's files, named otherwise)
    self.assertEqual(fashion.class_names[0], "T-shirt/top")
    self.assertEqual(fashion.class_names[9], "Ankle boot")
    self.assertEqual(datasets.load_arrays("mnist", "test", data_dir=MNIST_DIR).class_names, tuple("0123456789"))
    self.assertEqual(datasets.load_arrays("my_digits", "test", data_dir=MNIST_DIR).class_names, tuple("0123456789"))


class PeekTest(tf.test.TestCase):
  def test_a_twin_stage_peeks_without_moving_the_epochs(self):
    data = coded_arrays(64, num_classes=4)
    stage = datasets.mixup(data, batch_size=16, seed=5)
    twin_batch = next(iter(datasets.mixup(data, batch_size=16, seed=5)))
    epoch0 = list(stage)
    self.assertAllEqual(twin_batch[0], epoch0[0][0])
    peeked = datasets.mixup(data, batch_size=16, seed=5)
    next(iter(peeked))  # a peek uses up epoch 0 of that object (documented in the guides)
    self.assertNotAllClose(next(iter(peeked))[0], epoch0[0][0])
    self.assertEqual(datasets.epoch_counter(peeked).next_epoch, 2)


if __name__ == "__main__":
  tf.test.main()
