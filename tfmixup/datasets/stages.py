"""Mixup and pair sampling as tf.data stages feeding any Keras model.

Each stage pairs every example with a partner from a second, independently
shuffled pass over the same data, batches, and then mixes whole batches in
one vectorized map. Output batches are Keras-ready
`(images float32 [B, H, W, C], labels float32 [B, K])`.

Two inputs, one plumbing:

* In-memory arrays (`ImageArrays`, or an `(images, labels)` tuple): the fast
  path. Nothing is shuffled element by element. At the start of each epoch
  two seeded permutations of the whole dataset are drawn (`draws.permutation`:
  pass A gives the first examples, pass B their partners); each batch slices
  its positions out of both, and one fused map gathers both sets of examples
  from the uint8 arrays, normalizes, one-hots, draws λ and mixes.
* Any `tf.data.Dataset` of `(image, label)`: each epoch, two `shuffle` copies
  with seeds of their own, each batched, zipped, and mixed by the same
  arithmetic. Use this for data that does not fit in memory.

Randomness. Every stream (both passes, λ per batch, the shuffle seeds of a
`tf.data.Dataset` input) is derived from `seed` and the epoch number in
`seeds.py`, which also explains why the streams are independent. Epoch e is
the e-th iteration of the returned dataset (Keras starts one per epoch), so
the same seed gives the same stream of batches in every run and process,
and every epoch has new pairs and new λ. Not covered: `Dataset.shuffle`
also mixes TensorFlow's global seed into its order, so for a
`tf.data.Dataset` input call `tf.random.set_seed` /
`keras.utils.set_random_seed` the same way (or not at all) in runs that must
match (the in-memory path does not depend on it); and a run resumed
mid-training (e.g. by `keras.callbacks.BackupAndRestore`) in a new process
starts again at epoch 0.
"""

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfmixup.datasets import draws, idx, mixing, seeds
from tfmixup.datasets.errors import DataError, LabelError
from tfmixup.datasets.labels import LabelFormat, label_format, to_rows
from tfmixup.datasets.sources import ImageArrays

Data = tf.data.Dataset | ImageArrays | tuple[np.ndarray, np.ndarray]
# (images_a, labels_a, images_b, labels_b, seed) -> (images, labels)
Combine = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]

# tf.data's default graph rewrites serialize the pipeline, turning the
# in-memory arrays its map captures into graph constants: a full extra copy
# of the data (measured: +47 MB for MNIST, see BENCHMARKS.md). The array path
# is already one fused, parallel, prefetched map, so it skips the rewrites.
_KEEP_GRAPH = tf.data.Options()
_KEEP_GRAPH.experimental_optimization.apply_default_optimizations = False


def as_tensor(array: np.ndarray) -> tf.Tensor:
  """A tensor of the array's values, sharing its memory where TensorFlow can.

  A C-contiguous, writable array whose data is 64-byte aligned (as
  `load_arrays` allocates images) is adopted through DLPack without a copy;
  any other array is copied. Adopted arrays must not be modified afterwards.
  """
  if (
    array.size and array.flags.c_contiguous and array.flags.writeable and array.ctypes.data % idx.TENSOR_ALIGNMENT == 0
  ):
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
  return tf.constant(array)


def _check_positive_int(name: str, value: object) -> int:
  if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
    raise DataError(f"{name} must be a positive integer, got {value!r}")
  return int(value)


def check_alpha(alpha: float) -> float:
  """Returns α as a float, or raises DataError unless it is finite and > 0."""
  try:
    value = float(alpha)
  except (TypeError, ValueError):
    raise DataError(f"alpha must be a number > 0, got {alpha!r}") from None
  if not math.isfinite(value) or value <= 0:
    raise DataError(f"alpha must be finite and > 0, got {alpha!r}")
  return value


def _to_float_images(images: tf.Tensor) -> tf.Tensor:
  """uint8 0-255 -> float32 0-1; float images are only cast."""
  if images.dtype == tf.uint8:
    return tf.cast(images, tf.float32) / 255.0
  return tf.cast(images, tf.float32)


def _check_image_spec(dtype: tf.DType, rank: int | None, where: str) -> None:
  if rank != 3 or not (dtype == tf.uint8 or dtype.is_floating):
    raise DataError(
      f"{where}: images must be uint8 or float of shape [H, W, C] per example, got {dtype.name} of rank {rank}"
    )


def _arrays_of(data: ImageArrays | tuple, num_classes: int | None) -> tuple[np.ndarray, np.ndarray, LabelFormat]:
  """Validates in-memory data; returns images [N,H,W,C], labels, format."""
  if isinstance(data, ImageArrays):
    images, labels = data.images, data.labels
    num_classes = data.num_classes if num_classes is None else num_classes
  elif len(data) == 2:
    images, labels = np.asarray(data[0]), np.asarray(data[1])
  else:
    raise DataError(f"expected (images, labels), got a tuple of {len(data)}")
  if images.ndim == 3:  # [N, H, W] grayscale: add the channel axis.
    images = images[..., np.newaxis]
  _check_image_spec(tf.as_dtype(images.dtype), images.ndim - 1, "arrays")
  if len(images) != len(labels):
    raise DataError(f"{len(images)} images but {len(labels)} labels")
  if len(images) == 0:
    raise DataError("no examples: the data is empty")
  fmt = label_format(tf.as_dtype(labels.dtype), labels.shape[1:], num_classes)
  # Values are checked once here, so the per-batch map need not.
  if fmt.sparse and (labels.min() < 0 or labels.max() >= fmt.num_classes):
    raise LabelError(f"class ids must be in [0, {fmt.num_classes}), got {labels.min()}..{labels.max()}")
  if not fmt.sparse and (labels.min() < 0 or not np.allclose(labels.sum(axis=1), 1.0, atol=1e-3)):
    raise LabelError("label rows must be non-negative and sum to 1")
  return images, labels, fmt


def _from_arrays(
  data: ImageArrays | tuple,
  combine: Combine | None,
  *,
  batch_size: int,
  seed: int | None,
  num_classes: int | None,
  drop_remainder: bool,
) -> tf.data.Dataset:
  images, labels, fmt = _arrays_of(data, num_classes)
  size = len(labels)
  num_batches = size // batch_size if drop_remainder else -(-size // batch_size)
  if num_batches == 0:
    raise DataError(f"drop_remainder with {size} examples < batch_size {batch_size} leaves no batch")
  # Sparse ids as int64 (tf.one_hot takes no other wide integer dtype).
  images_t, labels_t = as_tensor(images), tf.constant(labels.astype(np.int64) if fmt.sparse else labels)

  def fetch(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    x = _to_float_images(tf.gather(images_t, indices))
    return x, to_rows(tf.gather(labels_t, indices), fmt, check=False)

  if seed is None:  # In order, no mixing: evaluation.

    def in_order(step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
      start = step * batch_size
      return fetch(tf.range(start, tf.minimum(start + batch_size, size)))

    ds = tf.data.Dataset.range(num_batches).map(in_order, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_KEEP_GRAPH)

  root = seeds.root(seed)
  counter = seeds.EpochCounter()

  full_batches = size // batch_size  # the rest, if kept, is one smaller batch
  cut = full_batches * batch_size

  def rows(order: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A permutation as full batches `[full_batches, B]` and the rest `[size % B]`."""
    return tf.reshape(order[:cut], [full_batches, batch_size]), order[cut:]

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    # Per epoch, at once: two full permutations (480 KB each for 60k
    # examples) and every batch's λ seed, cut into one row per batch. No
    # function runs per batch here; the parallel map below gathers and mixes.
    epoch_seed = seeds.epoch_seed(root, epoch)
    order_a = draws.permutation(size, seeds.stream(epoch_seed, seeds.Stream.PASS_A))
    order_b = draws.permutation(size, seeds.stream(epoch_seed, seeds.Stream.PASS_B)) if combine else order_a
    lambda_seeds = seeds.batch_seeds(epoch_seed, num_batches)
    (full_a, rest_a), (full_b, rest_b) = rows(order_a), rows(order_b)
    ds = tf.data.Dataset.from_tensor_slices((full_a, full_b, lambda_seeds[:full_batches]))
    if num_batches > full_batches:
      ds = ds.concatenate(tf.data.Dataset.from_tensors((rest_a, rest_b, lambda_seeds[full_batches])))
    return ds

  def batch(index_a: tf.Tensor, index_b: tf.Tensor, lambda_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    x_a, y_a = fetch(index_a)
    if combine is None:
      return x_a, y_a
    x_b, y_b = fetch(index_b)
    return combine(x_a, y_a, x_b, y_b, lambda_seed)

  # One element per iteration (the epoch number), then one per batch; the
  # gathering and mixing run in one parallel map.
  ds = counter.dataset().flat_map(epoch_batches).map(batch, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE)
  return ds.with_options(_KEEP_GRAPH)


def _from_dataset(
  dataset: tf.data.Dataset,
  combine: Combine | None,
  *,
  batch_size: int,
  seed: int | None,
  num_classes: int | None,
  drop_remainder: bool,
  shuffle_buffer: int | None,
) -> tf.data.Dataset:
  spec = dataset.element_spec
  if not isinstance(spec, tuple) or len(spec) != 2:
    raise DataError(f"dataset elements must be (image, label) pairs, got {spec}")
  _check_image_spec(spec[0].dtype, spec[0].shape.rank, "dataset")
  fmt = label_format(spec[1].dtype, spec[1].shape, num_classes)

  def prepare(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return _to_float_images(images), to_rows(labels, fmt)

  if seed is None:
    return (
      dataset.batch(batch_size, drop_remainder=drop_remainder)
      .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
      .prefetch(tf.data.AUTOTUNE)
    )
  if shuffle_buffer is None:
    cardinality = int(dataset.cardinality())
    if cardinality < 1:
      raise DataError("the dataset's size is unknown or infinite: pass shuffle_buffer")
    shuffle_buffer = cardinality
  shuffle_buffer = _check_positive_int("shuffle_buffer", shuffle_buffer)
  root = seeds.root(seed)
  counter = seeds.EpochCounter()

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    # Each epoch shuffles both streams afresh from seeds of its own; the same
    # seed twice would pair each example with itself.
    epoch_seed = seeds.epoch_seed(root, epoch)

    def stream(which: seeds.Stream) -> tf.data.Dataset:
      shuffled = dataset.shuffle(shuffle_buffer, seed=seeds.shuffle_seed(epoch_seed, which))
      return shuffled.batch(batch_size, drop_remainder=drop_remainder)

    first = stream(seeds.Stream.SHUFFLE_A)
    if combine is None:
      return first.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    # The number of batches may be unknown here: λ seeds come as a stream.
    lambda_seeds = seeds.batch_seed_stream(epoch_seed)

    def batch(a: tuple, b: tuple, lambda_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
      (x_a, y_a), (x_b, y_b) = prepare(*a), prepare(*b)
      return combine(x_a, y_a, x_b, y_b, lambda_seed)

    pairs = tf.data.Dataset.zip(first, stream(seeds.Stream.SHUFFLE_B), lambda_seeds)
    return pairs.map(batch, num_parallel_calls=tf.data.AUTOTUNE)

  return counter.dataset().flat_map(epoch_batches).prefetch(tf.data.AUTOTUNE)


def _stage(
  data: Data,
  combine: Combine | None,
  *,
  batch_size: int,
  seed: int | None,
  num_classes: int | None,
  drop_remainder: bool,
  shuffle_buffer: int | None,
) -> tf.data.Dataset:
  batch_size = _check_positive_int("batch_size", batch_size)
  if seed is not None:
    try:
      seed = seeds.check_seed(seed)
    except ValueError as e:
      raise DataError(str(e)) from None
  common = dict(batch_size=batch_size, seed=seed, num_classes=num_classes, drop_remainder=drop_remainder)
  if isinstance(data, tf.data.Dataset):
    return _from_dataset(data, combine, shuffle_buffer=shuffle_buffer, **common)
  if isinstance(data, ImageArrays | tuple | list):
    return _from_arrays(data, combine, **common)
  raise DataError(f"data must be a tf.data.Dataset, ImageArrays or (images, labels) arrays, got {type(data).__name__}")


def mixup(
  data: Data,
  *,
  batch_size: int,
  seed: int | None,
  alpha: float = 1.0,
  num_classes: int | None = None,
  drop_remainder: bool = False,
  shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
  """Mixup batches: each example mixed with a partner from an independent shuffle.

  Per sample, λ ~ Beta(α, α); image and label rows are mixed with the same λ
  (see `mixing.mix_batches`).

  Args:
    data: `ImageArrays`, `(images [N, H, W, C] uint8 or float, labels)`
      arrays, or a `tf.data.Dataset` of `(image [H, W, C], label)`. uint8
      images are scaled to [0, 1]; float images are used as they are.
      Labels: integer ids `[]` with `num_classes`, or float rows `[K]`.
    batch_size: examples per batch; the last batch may be smaller.
    seed: an integer in [-2**63, 2**63); every random choice derives from
      it (see `seeds.py`). None mixes from a fresh seed drawn from the
      operating system: a different stream in every run, not reproducible.
    alpha: Beta concentration α > 0. 1.0 draws λ uniformly, as in the Mixup
      authors' CIFAR-10 code; small α keeps λ near 0 or 1.
    num_classes: K for integer labels (defaults to `ImageArrays.num_classes`).
    drop_remainder: drop the last, smaller batch.
    shuffle_buffer: for a `tf.data.Dataset` input, the `shuffle` buffer
      (default: the whole dataset, which must then have a known size).

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`,
    one epoch per iteration. Iteration e (0, 1, ...) is epoch e: two new
    independent permutations (first examples, partners) and new λ.

  Raises:
    DataError: bad α, batch size, seed (not an int64 integer), or image
      shape/dtype.
    LabelError: labels of a format the stage cannot mix (see `labels.py`).
  """
  alpha = check_alpha(alpha)
  seed = seeds.fresh_seed() if seed is None else seed

  def combine(x_a, y_a, x_b, y_b, seed_):
    lam = draws.sample_beta(tf.shape(x_a)[:1], alpha, seed_)
    return mixing.mix_batches(x_a, y_a, x_b, y_b, lam)

  return _stage(
    data,
    combine,
    batch_size=batch_size,
    seed=seed,
    num_classes=num_classes,
    drop_remainder=drop_remainder,
    shuffle_buffer=shuffle_buffer,
  )


def pair_sampling(
  data: Data,
  *,
  batch_size: int,
  seed: int | None,
  num_classes: int | None = None,
  drop_remainder: bool = False,
  shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
  """SamplePairing batches: each image averaged with a partner, first label kept.

  Args and errors as `mixup` (without α).

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`
    where each label row is the one-hot label of the first image.
  """

  seed = seeds.fresh_seed() if seed is None else seed

  def combine(x_a, y_a, x_b, y_b, seed_):
    del y_b, seed_  # The partner's label and λ play no part.
    return mixing.pair_batches(x_a, y_a, x_b)

  return _stage(
    data,
    combine,
    batch_size=batch_size,
    seed=seed,
    num_classes=num_classes,
    drop_remainder=drop_remainder,
    shuffle_buffer=shuffle_buffer,
  )


def batches(
  data: Data,
  *,
  batch_size: int,
  seed: int | None = None,
  num_classes: int | None = None,
  drop_remainder: bool = False,
  shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
  """Plain batches, no mixing, in the same format: for ERM training and evaluation.

  Args:
    data, batch_size, num_classes, drop_remainder, shuffle_buffer: as `mixup`.
    seed: shuffle each epoch from this seed (an integer in [-2**63, 2**63));
      None keeps the data's order (evaluation).

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`.
  """
  return _stage(
    data,
    None,
    batch_size=batch_size,
    seed=seed,
    num_classes=num_classes,
    drop_remainder=drop_remainder,
    shuffle_buffer=shuffle_buffer,
  )
