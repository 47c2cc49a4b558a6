"""The mixing arithmetic: pure functions of two batches and λ, no randomness.

Random draws live in `draws.py` and the tf.data plumbing in `stages.py`;
keeping the arithmetic here lets tests inject λ and check exact numbers.
"""

import tensorflow as tf


def mix_batches(
  images_a: tf.Tensor,
  labels_a: tf.Tensor,
  images_b: tf.Tensor,
  labels_b: tf.Tensor,
  lam: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
  """Mixup of two batches with one λ per sample (Zhang et al., ICLR 2018).

  x = λ·x_a + (1-λ)·x_b and y = λ·y_a + (1-λ)·y_b, with the same λ for an
  image and its label.

  Args:
    images_a: float32 `[B, H, W, C]`.
    labels_a: float32 `[B, K]`, rows summing to 1.
    images_b: float32 `[B, H, W, C]`, the partners.
    labels_b: float32 `[B, K]`.
    lam: float32 `[B]` in [0, 1], or a scalar applied to every sample.

  Returns:
    `(images [B, H, W, C], labels [B, K])`; label rows still sum to 1.
  """
  images_a = tf.convert_to_tensor(images_a, dtype=tf.float32)
  images_b = tf.convert_to_tensor(images_b, dtype=tf.float32)
  labels_a = tf.convert_to_tensor(labels_a, dtype=tf.float32)
  labels_b = tf.convert_to_tensor(labels_b, dtype=tf.float32)
  lam = tf.convert_to_tensor(lam, dtype=tf.float32)
  if lam.shape.rank == 0:
    lam = tf.fill(tf.shape(images_a)[:1], lam)
  lam_images = tf.reshape(lam, [-1] + [1] * (images_a.shape.rank - 1))
  lam_labels = tf.reshape(lam, [-1, 1])
  images = lam_images * images_a + (1.0 - lam_images) * images_b
  labels = lam_labels * labels_a + (1.0 - lam_labels) * labels_b
  return images, labels


def pair_batches(images_a: tf.Tensor, labels_a: tf.Tensor, images_b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """SamplePairing (Inoue, 2018): average two images, keep the first label.

  Args:
    images_a: float32 `[B, H, W, C]`.
    labels_a: float32 `[B, K]`.
    images_b: float32 `[B, H, W, C]`, the partners; their labels are unused.

  Returns:
    `((x_a + x_b) / 2 [B, H, W, C], labels_a [B, K])`.
  """
  return mix_batches(images_a, labels_a, images_b, labels_a, 0.5)
