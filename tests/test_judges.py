"""Judges: the nearest-neighbour judge against brute force, the model judge against predict."""

from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR

from tfmixup import datasets
from tfmixup.study import judges


def brute_force_nn(train_images: np.ndarray, train_labels: np.ndarray, queries: np.ndarray) -> np.ndarray:
  """The label of the nearest training image (float64; np.argmin takes the lowest index on ties)."""
  t = train_images.reshape(len(train_images), -1).astype(np.float64)
  q = queries.reshape(len(queries), -1).astype(np.float64)
  dist = ((q[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
  return train_labels[np.argmin(dist, axis=1)]


@pytest.mark.slow
class NearestNeighbourJudgeTest(tf.test.TestCase, parameterized.TestCase):
  # 53 training images, 37 queries: no chunk size below divides either.
  @parameterized.parameters(1, 5, 7, 16, 64)
  def test_equals_brute_force(self, chunk):
    rng = np.random.default_rng(chunk)
    train = rng.random((53, 4, 3, 1)).astype(np.float32)
    labels = rng.integers(0, 5, 53)
    queries = rng.random((37, 4, 3, 1)).astype(np.float32)
    judged = judges.nearest_neighbour_judge((train, labels), chunk=chunk)(queries)
    self.assertEqual(judged.dtype, tf.int32)
    self.assertAllEqual(judged, brute_force_nn(train, labels, queries))

  @parameterized.parameters(3, 4, 16)
  def test_ties_go_to_the_lowest_index(self, chunk):
    # Training images 2 and 9 are the same image with different labels
    # (in one block for chunk 16, in different blocks for 3 and 4).
    rng = np.random.default_rng(0)
    train = rng.random((12, 2, 2, 1)).astype(np.float32)
    train[9] = train[2]
    labels = np.arange(12)
    judged = judges.nearest_neighbour_judge((train, labels), chunk=chunk)(train[[9, 2, 5]])
    self.assertAllEqual(judged, [2, 2, 5])

  def test_uint8_training_images_are_scaled(self):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (30, 3, 3, 1), dtype=np.uint8)
    data = datasets.ImageArrays(images, np.arange(30) % 4, ("a", "b", "c", "d"), (0, 1, 2, 3))
    judged = judges.nearest_neighbour_judge(data, chunk=8)(images.astype(np.float32) / 255.0)
    self.assertAllEqual(judged, np.arange(30) % 4)

  def test_runs_inside_tf_data(self):
    rng = np.random.default_rng(2)
    train = rng.random((20, 2, 2, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 20)
    judge = judges.nearest_neighbour_judge((train, labels), chunk=6)
    queries = rng.random((17, 2, 2, 1)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(queries).batch(5).map(judge)
    self.assertAllEqual(np.concatenate([b.numpy() for b in ds]), brute_force_nn(train, labels, queries))

  @pytest.mark.real_data
  def test_real_mnist(self):
    # 2,000 training images: the nearest neighbour is right on most test
    # digits, and it is the brute-force neighbour.
    train = datasets.load_arrays("mnist", "train", data_dir=MNIST_DIR).take(2000)
    test = datasets.load_arrays("mnist", "test", data_dir=MNIST_DIR).take(200)
    queries = test.images.astype(np.float32) / 255.0
    judged = judges.nearest_neighbour_judge(train, chunk=300)(queries).numpy()
    self.assertGreater(np.mean(judged == test.labels), 0.85)
    expected = brute_force_nn(train.images.astype(np.float32) / 255.0, train.labels, queries)
    self.assertGreaterEqual(np.mean(judged == expected), 0.99)  # float32 vs float64 near-ties aside

  def test_bad_chunk(self):
    with self.assertRaisesRegex(datasets.DataError, r"^chunk must be a positive integer, got 0$"):
      judges.nearest_neighbour_judge((np.zeros((3, 2, 2, 1)), np.zeros(3, np.int64)), chunk=0)


class ModelJudgeTest(tf.test.TestCase):
  def model(self):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])

  def test_equals_argmax_of_predict(self):
    model = self.model()
    images = np.random.default_rng(3).random((41, 4, 4, 1)).astype(np.float32)
    expected = np.argmax(model.predict(images, verbose=0), axis=1)
    judge = judges.model_judge(model)
    self.assertAllEqual(judge(images), expected)
    ds = tf.data.Dataset.from_tensor_slices(images).batch(8).map(judge)  # inside a tf.data graph
    self.assertAllEqual(np.concatenate([b.numpy() for b in ds]), expected)

  def test_other_backend_names_the_alternative(self):
    with mock.patch.object(keras.backend, "backend", return_value="jax"):
      with self.assertRaisesRegex(datasets.DataError, r"^[^\n]*TensorFlow backend[^\n]*teacher 'nn'[^\n]*$"):
        judges.model_judge(self.model())


class MovedNamesTest(tf.test.TestCase):
  def test_the_study_s_old_names_resolve_with_a_deprecation_warning(self):
    from tfmixup.study import filtering  # noqa: PLC0415

    for name, module in (
      ("intrusion_filtered_mixup", filtering),
      ("intrusion_flags", filtering),
      ("nearest_neighbour_judge", judges),
      ("model_judge", judges),
    ):
      with self.assertWarnsRegex(DeprecationWarning, f"tfmixup.datasets.{name} moved to {module.__name__}.{name}"):
        self.assertIs(getattr(datasets, name), getattr(module, name))
    with self.assertRaisesRegex(AttributeError, "has no attribute 'no_such_stage'"):
      datasets.no_such_stage  # noqa: B018


if __name__ == "__main__":
  tf.test.main()
