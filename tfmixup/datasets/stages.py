"""Mixing stages: tf.data pipelines that pair, mix and batch, feeding any Keras model.

Each stage pairs every example with a partner from a second, independently
shuffled pass over the same data, batches, and then mixes whole batches in
one vectorized map, by a mixer (`mixers.py`: Mixup, CutMix, both, pair
sampling, or a user's function via `paired`). Output batches are
Keras-ready `(images float32 [B, H, W, C], labels float32 [B, K])`.

Two inputs, one plumbing:

* In-memory arrays (`ImageArrays`, or an `(images, labels)` tuple): the fast
  path. Nothing is shuffled element by element. At the start of each epoch
  two seeded permutations of the whole dataset are drawn (`draws.permutation`:
  pass A gives the first examples, pass B their partners), and all of the
  epoch's mixing draws (λ, boxes, coin flips) at once; all are cut into one
  row per batch, and one fused, parallel map gathers both sets of examples
  from the uint8 arrays, normalizes, one-hots and mixes.
* Any `tf.data.Dataset` of `(image, label)`: each epoch, two `shuffle` copies
  with seeds of their own, each batched, zipped with per-batch seeds, and
  mixed by the same mixer. Use this for data that does not fit in memory.

Options every stage takes (`**options`, see `paired`): `num_classes`,
`drop_remainder`, `shuffle_buffer`, `label_smoothing`, `schedule`,
`initial_epoch`, and `num_workers` / `worker_index` (one worker's share of
every batch, for multi-worker training: see `shards.py`).

Randomness. Every stream (both passes, the mixing draws, the shuffle seeds
of a `tf.data.Dataset` input) is derived from `seed` and the epoch number in
`seeds.py`, which also explains why the streams are independent. Epoch e is
the stage's `initial_epoch` plus the number of earlier iterations of the
returned dataset (Keras starts one per epoch), so the same seed gives the
same stream of batches in every run and process, every epoch has new pairs
and draws, and a run resumed at epoch k with `initial_epoch=k` continues the
stream. `epoch_counter(stage)` gives the counter, so that training can tie it
to its own epoch number (`tfmixup.checkpoints.EpochSync`). Nothing depends
on TensorFlow's global seed (`tf.random.set_seed`): the in-memory path
uses stateless ops only, and the `shuffle` seeds of a `tf.data.Dataset`
input are used without the global seed mixed in.
"""

import dataclasses
import weakref
from collections.abc import Callable
from typing import Protocol

import numpy as np
import tensorflow as tf

from tfmixup import numeric
from tfmixup.datasets import draws, idx, mixers, mixing, pairs, seeds, shards
from tfmixup.datasets.errors import DataError, LabelError
from tfmixup.datasets.labels import LabelFormat, label_format, to_rows
from tfmixup.datasets.mixers import Combine
from tfmixup.datasets.schedules import Schedule
from tfmixup.datasets.sources import ImageArrays

Data = tf.data.Dataset | ImageArrays | tuple[np.ndarray, np.ndarray]


class Mixer(Protocol):
  """What a stage needs of a mixer (see `mixers.py`)."""

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]: ...

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]: ...


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


def _to_float_images(images: tf.Tensor) -> tf.Tensor:
  """uint8 0-255 -> float32 0-1; float images are only cast."""
  if images.dtype == tf.uint8:
    return tf.cast(images, tf.float32) / 255.0
  return tf.cast(images, tf.float32)


def _check_image_spec(dtype: tf.DType, shape: tf.TensorShape, where: str) -> None:
  """Raises DataError unless images are uint8 or float `[H, W, C]` per example, no size 0 (where known)."""
  rank = shape.rank
  if rank != 3 or not (dtype == tf.uint8 or dtype.is_floating):
    raise DataError(
      f"{where}: images must be uint8 or float of shape [H, W, C] per example, got {dtype.name} of rank {rank}"
    )
  if 0 in shape.as_list():  # (unknown sizes are None)
    raise DataError(f"{where}: images must be at least 1x1 with a channel, got [H, W, C] = {shape.as_list()}")


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
  _check_image_spec(tf.as_dtype(images.dtype), tf.TensorShape(images.shape[1:]), "arrays")
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


@dataclasses.dataclass(frozen=True)
class _Options:
  """The options every stage takes, checked once."""

  batch_size: int
  seed: int | None
  num_classes: int | None = None
  drop_remainder: bool = False
  shuffle_buffer: int | None = None
  label_smoothing: float = 0.0
  schedule: Schedule | None = None
  initial_epoch: int = 0
  num_workers: int = 1
  worker_index: int = 0
  sorted_buffer: int | None = None
  exclude_pairs: pairs.Pairs = ()

  def __post_init__(self) -> None:
    object.__setattr__(self, "exclude_pairs", pairs.check_pairs(self.exclude_pairs))
    object.__setattr__(self, "batch_size", _check_positive_int("batch_size", self.batch_size))
    if self.seed is not None:
      try:
        object.__setattr__(self, "seed", seeds.check_seed(self.seed))
      except ValueError as e:
        raise DataError(str(e)) from None
    for name in ("shuffle_buffer", "sorted_buffer"):
      if getattr(self, name) is not None:
        _check_positive_int(name, getattr(self, name))
    smoothing = numeric.real(self.label_smoothing)
    if smoothing is None or not 0 <= smoothing < 1:
      raise DataError(f"label_smoothing must be a number in [0, 1), got {self.label_smoothing!r}")
    object.__setattr__(self, "label_smoothing", smoothing)
    if self.schedule is not None and not isinstance(self.schedule, Schedule):
      raise DataError(f"schedule must be a tfmixup.datasets.Schedule or None, got {type(self.schedule).__name__}")
    epoch = self.initial_epoch
    if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
      raise DataError(f"initial_epoch must be an integer >= 0, got {epoch!r}")
    shards.check(self.num_workers, self.worker_index)


# Each mixing stage's epoch counter, by the dataset the stage returned.
_COUNTERS: "weakref.WeakKeyDictionary[tf.data.Dataset, seeds.EpochCounter]" = weakref.WeakKeyDictionary()


def _counted(ds: tf.data.Dataset, counter: seeds.EpochCounter) -> tf.data.Dataset:
  _COUNTERS[ds] = counter
  return ds


def epoch_counter(stage: tf.data.Dataset) -> seeds.EpochCounter | None:
  """The epoch counter of a dataset a mixing stage returned (None for any other dataset)."""
  return _COUNTERS.get(stage)


def _epoch_active(options: _Options, epoch: tf.Tensor) -> tf.Tensor | None:
  return None if options.schedule is None else options.schedule.active_tensor(epoch)


def _finisher(mixer: Mixer | None, options: _Options):
  """The last step of every batch: mix (or not, in an epoch the schedule leaves out), then smooth labels.

  Returns:
    `finish(x_a, y_a, fetch_b, drawn, active) -> (images, labels)`, where
    `fetch_b()` gives the partners (called only when they are needed).
  """

  def finish(x_a, y_a, fetch_b, drawn, active) -> tuple[tf.Tensor, tf.Tensor]:
    if mixer is None:
      images, labels = x_a, y_a
    elif active is None:
      images, labels = mixer.apply(x_a, y_a, *fetch_b(), drawn)
    else:
      # A mixer whose inputs are not images (`remedies.ManifoldPairs`) says what an unmixed epoch gives.
      unmixed = getattr(mixer, "unmixed", lambda x, y, drawn: (x, y))
      images, labels = tf.cond(
        active, lambda: mixer.apply(x_a, y_a, *fetch_b(), drawn), lambda: unmixed(x_a, y_a, drawn)
      )
    # Labels may be a structure of label rows (`remedies.AdaMixUpBatches`).
    return images, tf.nest.map_structure(lambda y: mixing.smooth_labels(y, options.label_smoothing), labels)

  return finish


def _num_batches(size: int, options: _Options) -> int:
  """Batches per epoch of `size` in-memory examples; raises DataError if drop_remainder leaves none."""
  batch_size = options.batch_size
  num_batches = size // batch_size if options.drop_remainder else -(-size // batch_size)
  if num_batches == 0:
    raise DataError(f"drop_remainder with {size} examples < batch_size {batch_size} leaves no batch")
  return num_batches


def _class_ids(labels: np.ndarray, fmt: LabelFormat) -> np.ndarray:
  """Class ids `[N]` of integer labels or of label rows (their argmax)."""
  return labels if fmt.sparse else np.argmax(labels, axis=-1)


# (epoch_seed, stream) -> the epoch's order of one pass, int64 [N]
Order = Callable[[tf.Tensor, seeds.Stream], tf.Tensor]


def orders(size: int, options: _Options, class_ids: np.ndarray | None = None) -> Order:
  """How each pass of an epoch is ordered: a full permutation, or with `options.sorted_buffer` the
  examples sorted by class (stably, needs `class_ids [N]`) through a shuffle buffer of that size
  (`draws.buffered_shuffle`: the study's suspected pipeline fault)."""
  if options.sorted_buffer is None:
    return lambda epoch_seed, which: draws.permutation(size, seeds.stream(epoch_seed, which))
  by_class = tf.constant(np.argsort(class_ids, kind="stable").astype(np.int64))
  return lambda epoch_seed, which: draws.buffered_shuffle(
    by_class, options.sorted_buffer, seeds.stream(epoch_seed, which)
  )


def epoch_draws(  # noqa: PLR0913, PLR0917 - the seed, the epoch, and what to draw for it
  root: tf.Tensor,
  epoch: tf.Tensor,
  size: int,
  mixer: Mixer | None,
  num_batches: int,
  batch_size: int,
  image_shape,
  order_of: Order | None = None,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
  """One epoch's random numbers on the in-memory path, drawn at once.

  Args:
    order_of: how a pass is ordered (`orders`); None: full permutations.

  Returns:
    `(epoch_seed int64 [2], order_a int64 [N], order_b int64 [N], drawn)`:
    the two permutations (pass A, pass B; pass A again without a mixer)
    and the mixer's draws `{name: [num_batches, B, ...]}` ({} without one).
    Position p of the epoch (batch p // B, row p % B) pairs `order_a[p]`
    with `order_b[p]` under row p of the draws flattened.
  """
  if order_of is None:
    order_of = lambda epoch_seed, which: draws.permutation(size, seeds.stream(epoch_seed, which))  # noqa: E731
  epoch_seed = seeds.epoch_seed(root, epoch)
  order_a = order_of(epoch_seed, seeds.Stream.PASS_A)
  order_b = order_of(epoch_seed, seeds.Stream.PASS_B) if mixer else order_a
  drawn = {}
  if mixer is not None:
    drawn = mixer.draw(seeds.stream(epoch_seed, seeds.Stream.LAMBDA), num_batches, batch_size, image_shape)
  return epoch_seed, order_a, order_b, drawn


# (epoch_seed, order_a [N], order_b [N], drawn) -> drawn with more per-example [num_batches, B] entries
Annotate = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, dict], dict]


def _array_epochs(  # noqa: PLR0913, PLR0917
  size: int,
  image_shape,
  mixer: Mixer | None,
  options: _Options,
  class_ids: np.ndarray | None = None,
  annotate: Annotate | None = None,
  num_classes: int | None = None,
) -> tuple[tf.data.Dataset, int, seeds.EpochCounter]:
  """The in-memory path's plumbing: per iteration (epoch), one element per batch.

  Each element is `(rows_a int32 [B], rows_b int32 [B], drawn, [active])`:
  the batch's first examples (pass A), their partners (pass B; pass A
  again without a mixer), its row of the mixer's draws, and, with a
  schedule, whether this epoch mixes (a bool scalar).

  With `options.exclude_pairs` (needs `class_ids [N]` and `num_classes`),
  pass B's partners of excluded class pairs are redrawn (`pairs.py`).

  With `options.sorted_buffer` (needs `class_ids [N]`), each pass is the
  examples sorted by class (stably) through a shuffle buffer of that size
  (`draws.buffered_shuffle`) instead of a full permutation.

  `annotate`, if given, sees each epoch's permutations and draws before
  they are cut into batches and returns the draws with per-example entries
  `[num_batches, B]` added (e.g. `filtering.py`'s sample weights); they are
  cut and shared between workers as the draws are.

  Returns:
    The dataset, the number of batches per epoch, and the epoch counter.
  """
  batch_size = options.batch_size
  num_batches = _num_batches(size, options)
  root = seeds.root(options.seed)
  counter = seeds.EpochCounter(options.initial_epoch)
  full_batches = size // batch_size  # the rest, if kept, is one smaller batch
  cut = full_batches * batch_size
  sharded = shards.check_split(options.num_workers, batch_size, size - cut if num_batches > full_batches else 0)

  order_of = orders(size, options, class_ids)
  redraw = None
  if options.exclude_pairs:
    if mixer is None:
      raise DataError("exclude_pairs needs a mixing stage: batches without mixing have no pairs")
    num_classes = int(np.max(class_ids)) + 1 if num_classes is None else num_classes
    redraw = pairs.PartnerRedraw(class_ids, options.exclude_pairs, num_classes)

  def rows(order: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A permutation as full batches `[full_batches, B]` and the rest `[size % B]`."""
    return tf.reshape(order[:cut], [full_batches, batch_size]), order[cut:]

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    # Per epoch, at once: two full permutations (480 KB each for 60k
    # examples) and every draw of the mixer, cut into one row per batch. No
    # function runs per batch here; the parallel map after it gathers and mixes.
    epoch_seed, order_a, order_b, drawn = epoch_draws(
      root, epoch, size, mixer, num_batches, batch_size, image_shape, order_of=order_of
    )
    if redraw is not None:  # excluded class pairs get new partners (pairs.py)
      order_b = redraw.redraw(order_a, order_b, seeds.stream(epoch_seed, seeds.Stream.PARTNERS))
    if annotate is not None:
      drawn = annotate(epoch_seed, order_a, order_b, drawn)
    active = _epoch_active(options, epoch)
    (full_a, rest_a), (full_b, rest_b) = rows(order_a), rows(order_b)
    head = {name: value[:full_batches] for name, value in drawn.items()}
    tail = {name: value[full_batches] for name, value in drawn.items()} if num_batches > full_batches else None
    if sharded:  # this worker's share of every batch (see shards.py)
      full_a, full_b, head, rest_a, rest_b, tail = shards.share(
        (full_a, full_b, head), (rest_a, rest_b, tail), (options.num_workers, options.worker_index), mixer, epoch_seed
      )
    ds = tf.data.Dataset.from_tensor_slices((full_a, full_b, head))
    if tail is not None:
      ds = ds.concatenate(tf.data.Dataset.from_tensors((rest_a, rest_b, tail)))
    return ds if active is None else ds.map(lambda a, b, d: (a, b, d, active))

  # One element per iteration (the epoch number), then one per batch.
  return counter.dataset().flat_map(epoch_batches), num_batches, counter


def _finish_array_pipeline(ds: tf.data.Dataset, num_batches: int, counter: seeds.EpochCounter) -> tf.data.Dataset:
  ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE)
  return _counted(ds.with_options(_KEEP_GRAPH), counter)


def _from_arrays(data: ImageArrays | tuple, mixer: Mixer | None, options: _Options) -> tf.data.Dataset:
  images, labels, fmt = _arrays_of(data, options.num_classes)
  batch_size, size = options.batch_size, len(labels)
  # Sparse ids as int64 (tf.one_hot takes no other wide integer dtype).
  images_t, labels_t = as_tensor(images), tf.constant(labels.astype(np.int64) if fmt.sparse else labels)

  def fetch(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    x = _to_float_images(tf.gather(images_t, indices))
    return x, to_rows(tf.gather(labels_t, indices), fmt, check=False)

  if options.seed is None:  # In order, no mixing: evaluation.
    num_batches = _num_batches(size, options)

    def in_order(step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
      start = step * batch_size
      x, y = fetch(tf.range(start, tf.minimum(start + batch_size, size)))
      return x, mixing.smooth_labels(y, options.label_smoothing)

    ds = tf.data.Dataset.range(num_batches).map(in_order, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_KEEP_GRAPH)

  scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0  # as _to_float_images
  finish = _finisher(mixer, options)

  def batch(index_a: tf.Tensor, index_b: tf.Tensor, drawn: dict, active: tf.Tensor | None = None):
    if hasattr(mixer, "apply_stored"):
      # Mix the images as stored and scale them in the same pass (see BENCHMARKS.md).
      def mix() -> tuple[tf.Tensor, tf.Tensor]:
        stored_a, stored_b = tf.gather(images_t, index_a), tf.gather(images_t, index_b)
        y_a, y_b = (to_rows(tf.gather(labels_t, i), fmt, check=False) for i in (index_a, index_b))
        return mixer.apply_stored(stored_a, y_a, stored_b, y_b, drawn, scale)

      images, labels = mix() if active is None else tf.cond(active, mix, lambda: fetch(index_a))
      return images, mixing.smooth_labels(labels, options.label_smoothing)
    x_a, y_a = fetch(index_a)
    return finish(x_a, y_a, lambda: fetch(index_b), drawn, active)

  epochs, num_batches, counter = _array_epochs(
    size, images.shape[1:], mixer, options, _class_ids(labels, fmt), num_classes=fmt.num_classes
  )
  # The gathering and mixing of each batch run in one parallel map.
  return _finish_array_pipeline(epochs.map(batch, num_parallel_calls=tf.data.AUTOTUNE), num_batches, counter)


def index_feed(data: ImageArrays | tuple, mixer: Mixer | None, options: _Options) -> tuple[tf.data.Dataset, np.ndarray]:
  """The host half of a device feed: the in-memory stage without the images.

  The same epochs, permutations and draws as the in-memory stage with this
  mixer and options (`_array_epochs`), but each batch carries the indices
  of its examples and the mixing weights instead of the mixed images; the
  labels are mixed here, as the stage mixes them (they are small). The
  mixer must have `weights_and_labels` (its images are a per-sample
  weighted sum), or be None (no mixing).

  Returns:
    `(dataset, images)`: a dataset of `({"index_a": int32 [B], "index_b":
    int32 [B], "weight_a": float32 [B]}, labels float32 [B, K])`, one epoch
    per iteration, where the batch's images are `weight_a·x[index_a] +
    (1 - weight_a)·x[index_b]` scaled as the stages scale them; and the
    validated images `[N, H, W, C]` those indices point into.

  Raises:
    DataError: as the stages; also a mixer without `weights_and_labels`.
  """
  if mixer is not None and not hasattr(mixer, "weights_and_labels"):
    raise DataError(f"{type(mixer).__name__} has no device feed: its images are not a per-sample weighted sum")
  images, labels, fmt = _arrays_of(data, options.num_classes)
  labels_t = tf.constant(labels.astype(np.int64) if fmt.sparse else labels)

  def label_rows(indices: tf.Tensor) -> tf.Tensor:
    return to_rows(tf.gather(labels_t, indices), fmt, check=False)

  def batch(index_a: tf.Tensor, index_b: tf.Tensor, drawn: dict, active: tf.Tensor | None = None):
    y_a = label_rows(index_a)
    unmixed = tf.ones(tf.shape(index_a), tf.float32), y_a
    if mixer is None:
      weights, y = unmixed
    else:

      def mix() -> tuple[tf.Tensor, tf.Tensor]:
        return mixer.weights_and_labels(y_a, label_rows(index_b), drawn)

      weights, y = mix() if active is None else tf.cond(active, mix, lambda: unmixed)
    inputs = {"index_a": tf.cast(index_a, tf.int32), "index_b": tf.cast(index_b, tf.int32), "weight_a": weights}
    return inputs, mixing.smooth_labels(y, options.label_smoothing)

  epochs, num_batches, counter = _array_epochs(
    len(labels), images.shape[1:], mixer, options, _class_ids(labels, fmt), num_classes=fmt.num_classes
  )
  ds = _finish_array_pipeline(epochs.map(batch, num_parallel_calls=tf.data.AUTOTUNE), num_batches, counter)
  return ds, images


def _from_dataset(dataset: tf.data.Dataset, mixer: Mixer | None, options: _Options) -> tf.data.Dataset:
  if options.sorted_buffer is not None:
    raise DataError("sorted_buffer needs in-memory arrays (it sorts the examples by class), not a tf.data.Dataset")
  if options.exclude_pairs:
    raise DataError("exclude_pairs needs in-memory arrays (it redraws partners by class), not a tf.data.Dataset")
  spec = dataset.element_spec
  if not isinstance(spec, tuple) or len(spec) != 2:
    raise DataError(f"dataset elements must be (image, label) pairs, got {spec}")
  _check_image_spec(spec[0].dtype, spec[0].shape, "dataset")
  image_shape = spec[0].shape
  if getattr(mixer, "needs_image_size", False) and None in image_shape[:2]:
    raise DataError(f"dataset: CutMix needs a known image height and width, got shape {image_shape}")
  fmt = label_format(spec[1].dtype, spec[1].shape, options.num_classes)
  batch_size, drop_remainder = options.batch_size, options.drop_remainder

  def prepare(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return _to_float_images(images), to_rows(labels, fmt)

  def unmixed(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    x, y = prepare(images, labels)
    return x, mixing.smooth_labels(y, options.label_smoothing)

  if options.seed is None:
    ds = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return ds.map(unmixed, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
  shuffle_buffer = options.shuffle_buffer
  if shuffle_buffer is None:
    shuffle_buffer = int(dataset.cardinality())
    if shuffle_buffer < 1:
      raise DataError("the dataset's size is unknown or infinite: pass shuffle_buffer")
  root = seeds.root(options.seed)
  counter = seeds.EpochCounter(options.initial_epoch)
  finish = _finisher(mixer, options)

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    # Each epoch shuffles both streams afresh from seeds of its own; the same
    # seed twice would pair each example with itself. This function's graph
    # gets no graph-level seed: `shuffle` would otherwise mix TensorFlow's
    # global seed into its order and, for a global seed of 0
    # (`tf.random.set_seed(0)`), fail to trace with a tensor seed.
    tf.compat.v1.get_default_graph().seed = None
    epoch_seed = seeds.epoch_seed(root, epoch)
    active = _epoch_active(options, epoch)

    def stream(which: seeds.Stream) -> tf.data.Dataset:
      shuffled = dataset.shuffle(shuffle_buffer, seed=seeds.shuffle_seed(epoch_seed, which))
      return shuffled.batch(batch_size, drop_remainder=drop_remainder)

    first = stream(seeds.Stream.SHUFFLE_A)
    if mixer is None:
      return first.map(unmixed, num_parallel_calls=tf.data.AUTOTUNE)
    # The number of batches may be unknown here: draws are made per batch,
    # from a stream of per-batch seeds.
    pairs = tf.data.Dataset.zip(
      tf.data.Dataset.zip(first, stream(seeds.Stream.SHUFFLE_B)), seeds.batch_seed_stream(epoch_seed)
    )

    def batch(pair: tuple, batch_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
      (a, b) = pair
      x_a, y_a = prepare(*a)
      drawn = {name: value[0] for name, value in mixer.draw(batch_seed, 1, batch_size, image_shape).items()}
      return finish(x_a, y_a, lambda: prepare(*b), drawn, active)

    return pairs.map(batch, num_parallel_calls=tf.data.AUTOTUNE)

  ds = counter.dataset().flat_map(epoch_batches)
  if options.num_workers > 1:  # this worker's share of every mixed batch (see shards.py)
    ds = ds.map(lambda x, y: shards.slice_batch((x, y), options.num_workers, options.worker_index))
  return _counted(ds.prefetch(tf.data.AUTOTUNE), counter)


def _stage(data: Data, mixer: Mixer | None, options: _Options) -> tf.data.Dataset:
  if isinstance(data, tf.data.Dataset):
    return _from_dataset(data, mixer, options)
  if isinstance(data, ImageArrays | tuple | list):
    return _from_arrays(data, mixer, options)
  raise DataError(f"data must be a tf.data.Dataset, ImageArrays or (images, labels) arrays, got {type(data).__name__}")


_OPTION_NAMES = tuple(field.name for field in dataclasses.fields(_Options))[2:]


def _checked_options(batch_size: int, seed: int | None, options: dict) -> _Options:
  unknown = sorted(set(options) - set(_OPTION_NAMES))
  if unknown:
    raise TypeError(f"unknown stage option(s) {', '.join(unknown)}; the options are {', '.join(_OPTION_NAMES)}")
  return _Options(batch_size=batch_size, seed=seed, **options)


def _mixing_options(batch_size: int, seed: int | None, options: dict) -> _Options:
  """Options of a mixing stage: seed=None means a fresh seed (never "no mixing")."""
  return _checked_options(batch_size, seeds.fresh_seed() if seed is None else seed, options)


def paired(data: Data, combine: Combine, *, batch_size: int, seed: int | None, **options) -> tf.data.Dataset:
  """Batches of pairs mixed by your function: a two-stream stage for any mixing method.

  Every example is paired with a partner from a second, independently
  shuffled pass; `combine` gets both batches and a fresh seed per batch.

  Args:
    data: `ImageArrays`, `(images [N, H, W, C] uint8 or float, labels)`
      arrays, or a `tf.data.Dataset` of `(image [H, W, C], label)`. uint8
      images are scaled to [0, 1]; float images are used as they are.
      Labels: integer ids `[]` with `num_classes`, or float rows `[K]`.
    combine: `(images_a [B, H, W, C], labels_a [B, K], images_b, labels_b,
      seed int64 [2]) -> (images [B, H, W, C], labels [B, K])`, float32;
      use the seed with `tf.random.stateless_*` ops (a new one per batch,
      from `seed`). It runs inside a `tf.data` map (graph mode).
    batch_size: examples per batch; the last batch may be smaller.
    seed: an integer in [-2**63, 2**63); every random choice derives from
      it (see `seeds.py`). None draws a fresh seed from the operating
      system: a different stream in every run, not reproducible.
    **options: every stage takes these:
      num_classes: K for integer labels (defaults to `ImageArrays.num_classes`).
      drop_remainder: drop the last, smaller batch (default False).
      shuffle_buffer: for a `tf.data.Dataset` input, the `shuffle` buffer
        (default: the whole dataset, which must then have a known size).
      exclude_pairs: for arrays, class pairs that never mix, e.g.
        `((0, 2),)` (class ids as the labels give them, either order): a
        partner of an excluded class is redrawn uniformly from the
        examples allowed to mix with the first example, so every example
        still mixes (`pairs.py`). Default (): every pair may mix.
      sorted_buffer: for arrays, reproduce a pipeline fault: each epoch's
        order is the examples sorted by class through a `shuffle` buffer of
        this size, not a full permutation (default None: full permutations).
      label_smoothing: ε in [0, 1): label rows become y·(1-ε) + ε/K after
        mixing (default 0).
      schedule: a `Schedule` of the epochs that mix; the others yield the
        first stream's batches unmixed (default: every epoch mixes).
      initial_epoch: the number of the first iteration's epoch (default 0);
        pass Keras's `initial_epoch` when resuming.
      num_workers, worker_index: yield only this worker's share of every
        batch (default 1, 0): rows [i·B/n, (i+1)·B/n) of each batch, so the
        workers together use each example once per epoch and, batch for
        batch, exactly what one worker would; partners still come from the
        whole dataset (see `shards.py`).

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`,
    one epoch per iteration: two new independent permutations (first
    examples, partners) and new draws each epoch.

  Raises:
    DataError: a bad option, seed (not an int64 integer), or image
      shape/dtype; the message names it.
    LabelError: labels of a format the stage cannot mix (see `labels.py`).
  """
  return _stage(data, mixers.Custom(combine), _mixing_options(batch_size, seed, options))


def mixup(
  data: Data, *, batch_size: int, seed: int | None, alpha: float = 1.0, prob: float = 1.0, **options
) -> tf.data.Dataset:
  """Mixup batches (Zhang et al., ICLR 2018): each example mixed with an independent partner.

  Per sample, λ ~ Beta(α, α); image and label rows are mixed with the same λ
  (see `mixing.mix_batches`).

  Args:
    data, batch_size, seed, **options: as `paired`.
    alpha: Beta concentration α > 0. 1.0 draws λ uniformly, as in the Mixup
      authors' CIFAR-10 code; small α keeps λ near 0 or 1.
    prob: probability that a sample is mixed (else it is passed as it is).

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return _stage(data, mixers.Mixup(alpha, prob), _mixing_options(batch_size, seed, options))


def cutmix(
  data: Data, *, batch_size: int, seed: int | None, alpha: float = 1.0, prob: float = 1.0, **options
) -> tf.data.Dataset:
  """CutMix batches (Yun et al., ICCV 2019): a box of an independent partner pasted into each example.

  Per sample, λ ~ Beta(α, α) sets a box of about (1-λ)·H·W pixels, centred
  uniformly and clipped to the image; the label weights are the fractions
  of pixels each image really contributes (see `mixing.cut_batches`).

  Args:
    data, batch_size, seed, **options: as `paired`.
    alpha: Beta concentration α > 0 (the CutMix authors use 1.0).
    prob: probability that a sample gets a box.

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return _stage(data, mixers.CutMix(alpha, prob), _mixing_options(batch_size, seed, options))


def mixup_cutmix(
  data: Data,
  *,
  batch_size: int,
  seed: int | None,
  mixup_alpha: float = 1.0,
  cutmix_alpha: float = 1.0,
  switch_prob: float = 0.5,
  prob: float = 1.0,
  **options,
) -> tf.data.Dataset:
  """Mixup or CutMix per sample, as timm's `Mixup(switch_prob=..., prob=...)`.

  Args:
    data, batch_size, seed, **options: as `paired`.
    mixup_alpha: Mixup's Beta concentration α > 0.
    cutmix_alpha: CutMix's Beta concentration α > 0.
    switch_prob: probability that a mixed sample uses CutMix rather than Mixup.
    prob: probability that a sample is mixed at all.

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  mixer = mixers.MixupOrCutMix(mixup_alpha, cutmix_alpha, switch_prob, prob)
  return _stage(data, mixer, _mixing_options(batch_size, seed, options))


def pair_sampling(data: Data, *, batch_size: int, seed: int | None, prob: float = 1.0, **options) -> tf.data.Dataset:
  """SamplePairing batches (Inoue 2018): each image averaged with a partner, first label kept.

  For the author's training schedule (off at first, then on and off
  intermittently, off at the end) pass `schedule=Schedule(...)`.

  Args:
    data, batch_size, seed, **options: as `paired`.
    prob: probability that a sample is paired.

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`
    where each label row is the label of the first image.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return _stage(data, mixers.PairSampling(prob), _mixing_options(batch_size, seed, options))


def batches(data: Data, *, batch_size: int, seed: int | None = None, **options) -> tf.data.Dataset:
  """Plain batches, no mixing, in the same format: for ERM training and evaluation.

  Args:
    data, batch_size, **options: as `paired` (a schedule has no effect).
    seed: shuffle each epoch from this seed (an integer in [-2**63, 2**63));
      None keeps the data's order (evaluation).

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return _stage(data, None, _checked_options(batch_size, seed, options))
