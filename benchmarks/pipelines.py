"""The input pipelines compared in the benchmarks, each one epoch of (images, labels) batches.

(a) plain: the usual pipeline without mixing.
(b), (c): tfmixup Mixup and pair sampling on in-memory arrays (the fast path).
(d) keras.layers.MixUp mapped over the batches of (a).
(e) the keras.io MixUp example's pattern: per-element preprocessing, two
    shuffled, batched streams zipped, mixed per batch.
(f) tfmixup Mixup on a tf.data.Dataset input (the general path).
Written for these benchmarks from the anchors' descriptions; seeds fixed.
"""

import keras
import numpy as np
import tensorflow as tf

from tfmixup import datasets

AUTOTUNE = tf.data.AUTOTUNE


def _normalize(images, labels):
  return tf.cast(images, tf.float32) / 255.0, tf.one_hot(labels, 10)


def plain(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  ds = tf.data.Dataset.from_tensor_slices((train.images, train.labels))
  ds = ds.shuffle(len(train), seed=0).batch(batch_size)
  return ds.map(_normalize, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def tfmixup_mixup(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  return datasets.mixup(train, batch_size=batch_size, seed=0)


def tfmixup_pair_sampling(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  return datasets.pair_sampling(train, batch_size=batch_size, seed=0)


def keras_mixup_layer(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  layer = keras.layers.MixUp(alpha=1.0, seed=0)

  def mix(images, labels):
    out = layer({"images": images, "labels": labels})
    return out["images"], out["labels"]

  return plain(train, batch_size).map(mix, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def keras_io_pattern(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  def stream(seed):
    ds = tf.data.Dataset.from_tensor_slices((train.images, train.labels)).map(_normalize, num_parallel_calls=AUTOTUNE)
    return ds.shuffle(len(train), seed=seed).batch(batch_size)

  def mix(a, b):
    (x1, y1), (x2, y2) = a, b
    size = tf.shape(x1)[:1]
    g1 = tf.random.gamma(size, 1.0)
    g2 = tf.random.gamma(size, 1.0)
    lam = g1 / (g1 + g2)
    return (
      tf.reshape(lam, [-1, 1, 1, 1]) * x1 + tf.reshape(1 - lam, [-1, 1, 1, 1]) * x2,
      tf.reshape(lam, [-1, 1]) * y1 + tf.reshape(1 - lam, [-1, 1]) * y2,
    )

  return tf.data.Dataset.zip(stream(1), stream(2)).map(mix, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def tfmixup_mixup_dataset(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  return datasets.mixup(train.to_dataset(), batch_size=batch_size, seed=0, num_classes=train.num_classes)


VARIANTS = {
  "a_plain": plain,
  "b_tfmixup_mixup": tfmixup_mixup,
  "c_tfmixup_pair_sampling": tfmixup_pair_sampling,
  "d_keras_layers_MixUp": keras_mixup_layer,
  "e_keras_io_pattern": keras_io_pattern,
  "f_tfmixup_mixup_on_dataset": tfmixup_mixup_dataset,
}


def iterate(ds: tf.data.Dataset) -> int:
  """Runs one epoch; returns the number of images seen."""
  n = 0
  for images, _ in ds:
    n += int(images.shape[0])
  return n


def uint8_bytes(train: datasets.ImageArrays) -> int:
  return int(train.images.nbytes + np.asarray(train.labels, np.uint8).nbytes)
