"""Judges: what class an image looks like, as tf.data-ready functions.

A judge maps float32 images `[N, H, W, C]` in [0, 1] to int32 class ids
`[N]` in the data's label space 0..K-1. The intrusion filter
(`filtering.py`) asks a judge about every mix it draws and flags a mix of
classes i and j that the judge calls some third class k ("manifold
intrusion").

* `nearest_neighbour_judge(train)`: the label of the nearest training image
  in pixel space (GenLabel's `exclude_MI` criterion). Pure TensorFlow ops,
  so it runs inside a `tf.data` graph whatever the Keras backend.
* `model_judge(model)`: the argmax of a Keras classifier's logits (e.g. a
  model trained without mixing). Inside `tf.data` only under the TensorFlow
  backend.
"""

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from tfmixup.datasets.sources import ImageArrays
from tfmixup.errors import DataError

# float32 images [N, H, W, C] in [0, 1] -> int32 class ids [N]
Judge = Callable[[tf.Tensor], tf.Tensor]


def _check_chunk(chunk: object) -> int:
  if isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1:
    raise DataError(f"chunk must be a positive integer, got {chunk!r}")
  return int(chunk)


def _training_set(train: ImageArrays | tuple) -> tuple[np.ndarray, np.ndarray]:
  """Flattened float32 images `[M, D]` in [0, 1] and int32 class ids `[M]`."""
  if isinstance(train, ImageArrays):
    images, labels = train.images, train.labels
  elif isinstance(train, tuple | list) and len(train) == 2:
    images, labels = np.asarray(train[0]), np.asarray(train[1])
  else:
    raise DataError(f"a judge's training data must be ImageArrays or (images, labels), got {type(train).__name__}")
  if len(images) == 0 or len(images) != len(labels) or images.ndim not in {3, 4} or labels.ndim not in {1, 2}:
    raise DataError(
      f"a judge needs images [M, H, W(, C)] and labels [M] or [M, K], got {images.shape} and {labels.shape}"
    )
  flat = images.reshape(len(images), -1).astype(np.float32)
  if images.dtype == np.uint8:
    flat /= 255.0
  ids = labels if labels.ndim == 1 else np.argmax(labels, axis=1)
  return flat, ids.astype(np.int32)


def nearest_neighbour_judge(train: ImageArrays | tuple, chunk: int = 1024) -> Judge:
  """The label of the nearest training image in pixel space (squared L2).

  Distances are ‖q‖² - 2·q·t + ‖t‖² via a matmul, `chunk` queries against
  `chunk` training images at a time (memory `chunk²` floats, whatever N and
  M), keeping a running minimum. Ties go to the lowest training index.
  Work: N·M·D multiply-adds per call (MNIST, 60,000 against 60,000: about
  3·10^12).

  Args:
    train: the training split, `ImageArrays` or `(images [M, H, W, C] uint8
      or float, labels)` (ids, or rows whose argmax is taken). uint8 images
      are scaled to [0, 1], as the stages scale them.
    chunk: rows per matmul block.

  Returns:
    `judge(images float32 [N, H, W, C]) -> int32 [N]`, pure TensorFlow ops.

  Raises:
    DataError: bad images, labels or chunk.
  """
  chunk = _check_chunk(chunk)
  flat, ids = _training_set(train)
  size, dim = flat.shape
  blocks = -(-size // chunk)
  padded = np.zeros((blocks * chunk, dim), np.float32)
  padded[:size] = flat
  # Padding rows are infinitely far: never a nearest neighbour.
  norms = np.full(blocks * chunk, np.inf, np.float32)
  norms[:size] = np.sum(flat.astype(np.float64) ** 2, axis=1)
  train_blocks = tf.constant(padded.reshape(blocks, chunk, dim))
  norm_blocks = tf.constant(norms.reshape(blocks, chunk))
  offsets = tf.range(blocks, dtype=tf.int32) * chunk
  labels_t = tf.constant(ids)

  def nearest(queries: tf.Tensor) -> tf.Tensor:
    """Index of the nearest training image of each query `[chunk, D]`."""
    query_norms = tf.reduce_sum(tf.square(queries), axis=1, keepdims=True)

    def step(best: tuple[tf.Tensor, tf.Tensor], block: tuple) -> tuple[tf.Tensor, tf.Tensor]:
      best_dist, best_index = best
      rows, row_norms, offset = block
      dist = query_norms - 2.0 * tf.matmul(queries, rows, transpose_b=True) + row_norms[tf.newaxis, :]
      low = tf.reduce_min(dist, axis=1)
      # The first column at the minimum (tf.argmin does not promise the lowest index).
      columns = tf.range(chunk, dtype=tf.int32)[tf.newaxis, :]
      first = tf.reduce_min(tf.where(dist == low[:, tf.newaxis], columns, chunk), axis=1) + offset
      better = low < best_dist  # strict: an earlier block keeps a tie
      return tf.where(better, low, best_dist), tf.where(better, first, best_index)

    start = (tf.fill([chunk], np.float32(np.inf)), tf.zeros([chunk], tf.int32))
    return tf.foldl(step, (train_blocks, norm_blocks, offsets), initializer=start)[1]

  def judge(images: tf.Tensor) -> tf.Tensor:
    queries = tf.reshape(tf.cast(images, tf.float32), [-1, dim])
    count = tf.shape(queries)[0]
    pad = (-count) % chunk
    queries = tf.reshape(tf.pad(queries, [[0, pad], [0, 0]]), [-1, chunk, dim])
    index = tf.map_fn(nearest, queries, fn_output_signature=tf.TensorSpec([chunk], tf.int32))
    return tf.gather(labels_t, tf.reshape(index, [-1])[:count])

  return judge


def model_judge(model: keras.Model) -> Judge:
  """The argmax of a Keras classifier's outputs (logits or probabilities).

  Args:
    model: a classifier of float32 images `[N, H, W, C]` in [0, 1] over the
      data's K classes, e.g. `keras.saving.load_model("erm.keras")`.

  Returns:
    `judge(images) -> int32 [N]`, calling the model in inference mode.

  Raises:
    DataError: the Keras backend is not TensorFlow (a model cannot run
      inside a `tf.data` graph then).
  """
  if keras.backend.backend() != "tensorflow":
    raise DataError(
      f"a model judge runs inside tf.data, which needs the TensorFlow backend, not {keras.backend.backend()!r}:"
      " use the nearest-neighbour judge (teacher 'nn')"
    )

  def judge(images: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.argmax(model(tf.cast(images, tf.float32), training=False), axis=-1), tf.int32)

  return judge
