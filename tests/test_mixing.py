"""The pure mixing arithmetic, with λ injected: exact values, eager and in Dataset.map."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfmixup.datasets import mix_batches, pair_batches


class MixBatchesTest(tf.test.TestCase, parameterized.TestCase):
  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.x_a = rng.random((4, 3, 3, 2), dtype=np.float32)
    self.x_b = rng.random((4, 3, 3, 2), dtype=np.float32)
    self.y_a = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    self.y_b = np.eye(3, dtype=np.float32)[[1, 1, 0, 2]]
    self.lam = np.array([0.0, 0.25, 0.5, 1.0], dtype=np.float32)

  def expected(self):
    lam = self.lam.reshape(-1, 1, 1, 1)
    return lam * self.x_a + (1 - lam) * self.x_b, self.lam[:, None] * self.y_a + (1 - self.lam[:, None]) * self.y_b

  def test_per_sample_lambda_exact(self):
    images, labels = mix_batches(self.x_a, self.y_a, self.x_b, self.y_b, self.lam)
    want_x, want_y = self.expected()
    self.assertAllClose(images, want_x, atol=1e-7)
    self.assertAllClose(labels, want_y, atol=1e-7)
    # λ=0 gives the partner, λ=1 the first example, exactly.
    self.assertAllEqual(images[0], self.x_b[0])
    self.assertAllEqual(images[3], self.x_a[3])
    self.assertAllClose(labels[1], [0.0, 1.0, 0.0])
    self.assertAllClose(labels[2], [0.5, 0.0, 0.5])
    self.assertAllClose(tf.reduce_sum(labels, axis=1), tf.ones(4))

  def test_scalar_lambda_broadcasts(self):
    images, labels = mix_batches(self.x_a, self.y_a, self.x_b, self.y_b, 0.3)
    self.assertAllClose(images, 0.3 * self.x_a + 0.7 * self.x_b, atol=1e-7)
    self.assertAllClose(labels, 0.3 * self.y_a + 0.7 * self.y_b, atol=1e-7)

  def test_same_inside_dataset_map(self):
    ds = tf.data.Dataset.from_tensors((self.x_a, self.y_a, self.x_b, self.y_b, self.lam)).map(mix_batches)
    images, labels = next(iter(ds))
    want_x, want_y = self.expected()
    self.assertAllClose(images, want_x, atol=1e-7)
    self.assertAllClose(labels, want_y, atol=1e-7)

  def test_same_inside_tf_function(self):
    images, _ = tf.function(mix_batches)(self.x_a, self.y_a, self.x_b, self.y_b, self.lam)
    self.assertAllClose(images, self.expected()[0], atol=1e-7)

  def test_pair_batches_averages_and_keeps_first_label(self):
    images, labels = pair_batches(self.x_a, self.y_a, self.x_b)
    self.assertAllClose(images, (self.x_a + self.x_b) / 2, atol=1e-7)
    self.assertAllEqual(labels, self.y_a)
