"""The pipeline under every stage: the plug point where a mixer meets the data (internal API).

A stage (`stages.py`, the method modules of `tfmixup.methods`) is a mixer
(`tfmixup.methods.Mixer`) and the options every stage takes (`Options`),
given to `build`. Everything a stage does between the data and the batches
is here, once:

* the epoch plan of the in-memory path (`array_epochs`): per epoch, two
  seeded orders of the whole dataset (`orders`: pass A gives the first
  examples, pass B their partners), every draw of the mixer at once
  (`epoch_draws`), the cut into one row per batch, and, for several
  workers, each worker's share (`shards.py`); one fused, parallel map then
  gathers, scales, one-hots and mixes each batch (`from_arrays`), or sends
  indices and weights or boxes for a device feed (`index_feed`);
* the `tf.data.Dataset` path (`from_dataset`): two `shuffle` copies with
  seeds of their own, batched, zipped with per-batch seeds;
* one last step of every batch (`finish_batch`): mix, or not in an epoch a
  schedule leaves out, then smooth the labels.

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

Nothing outside this module uses its private (underscored) names.
"""

import dataclasses
import weakref
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfmixup import numeric
from tfmixup.datasets import draws, idx, mixing, pairs, seeds, shards
from tfmixup.datasets.errors import DataError, LabelError
from tfmixup.datasets.labels import LabelFormat, label_format, to_rows
from tfmixup.datasets.schedules import Schedule
from tfmixup.datasets.sources import ImageArrays
from tfmixup.methods.mixer import Mixer

Data = tf.data.Dataset | ImageArrays | tuple[np.ndarray, np.ndarray]


# tf.data's default graph rewrites serialize the pipeline, turning the
# in-memory arrays its map captures into graph constants: a full extra copy
# of the data (measured: +47 MB for MNIST, see BENCHMARKS.md). The array path
# is already one fused, parallel, prefetched map, so it skips the rewrites.
KEEP_GRAPH = tf.data.Options()
KEEP_GRAPH.experimental_optimization.apply_default_optimizations = False


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


def check_positive_int(name: str, value: object) -> int:
  if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
    raise DataError(f"{name} must be a positive integer, got {value!r}")
  return int(value)


def to_float_images(images: tf.Tensor) -> tf.Tensor:
  """uint8 0-255 -> float32 0-1; float images are only cast."""
  if images.dtype == tf.uint8:
    return tf.cast(images, tf.float32) / 255.0
  return tf.cast(images, tf.float32)


# Channel counts of real images. An image of height 1-4 whose "channels" are many more looks channels-first.
_CHANNELS = (1, 2, 3, 4)


def check_image_spec(dtype: tf.DType, shape: tf.TensorShape, where: str) -> None:
  """Raises DataError unless images are uint8 or float `[H, W, C]` per example (channels-last), no size 0.

  A dataset whose elements are batches (rank 4) gets a hint to `unbatch()`;
  an image that looks channels-first (`[C, H, W]` with C in 1-4 and H, W
  larger: `[1, 28, 28]`, `[3, 32, 32]`) is refused, with how to transpose
  it: taken as channels-last it would be an image of height C.
  """
  rank = shape.rank
  if rank != 3 or not (dtype == tf.uint8 or dtype.is_floating):
    hint = ""
    if where == "dataset" and rank == 4:
      hint = "; the dataset looks batched: pass dataset.unbatch() (the stage batches and pairs itself)"
    raise DataError(
      f"{where}: images must be uint8 or float of shape [H, W, C] per example, got {dtype.name} of rank {rank}{hint}"
    )
  dims = shape.as_list()
  if 0 in dims:  # (unknown sizes are None)
    raise DataError(f"{where}: images must be at least 1x1 with a channel, got [H, W, C] = {dims}")
  height, width, channels = dims
  if height in _CHANNELS and None not in (width, channels) and width > 4 and channels > 4:
    raise DataError(
      f"{where}: images look channels-first ([C, H, W] = {dims} per example); tfmixup takes channels-last"
      " [H, W, C]: transpose them, e.g. np.moveaxis(images, 1, -1) or tf.transpose(image, [1, 2, 0])"
    )


def arrays_of(data: ImageArrays | tuple, num_classes: int | None) -> tuple[np.ndarray, np.ndarray, LabelFormat]:
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
  check_image_spec(tf.as_dtype(images.dtype), tf.TensorShape(images.shape[1:]), "arrays")
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
class Options:
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
    object.__setattr__(self, "batch_size", check_positive_int("batch_size", self.batch_size))
    if self.seed is not None:
      try:
        object.__setattr__(self, "seed", seeds.check_seed(self.seed))
      except ValueError as e:
        raise DataError(str(e)) from None
    for name in ("shuffle_buffer", "sorted_buffer"):
      if getattr(self, name) is not None:
        check_positive_int(name, getattr(self, name))
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


def counted(ds: tf.data.Dataset, counter: seeds.EpochCounter) -> tf.data.Dataset:
  _COUNTERS[ds] = counter
  return ds


def epoch_counter(stage: tf.data.Dataset) -> seeds.EpochCounter | None:
  """The epoch counter of a dataset a mixing stage returned (None for any other dataset)."""
  return _COUNTERS.get(stage)


def epoch_active(options: Options, epoch: tf.Tensor) -> tf.Tensor | None:
  return None if options.schedule is None else options.schedule.active_tensor(epoch)


def finish_batch(mix: Callable[[], tuple], unmixed: Callable[[], tuple], active, label_smoothing: float) -> tuple:
  """The last step of every batch, on every path: mix (or not, in an epoch the schedule leaves out), then smooth.

  Args:
    mix: `() -> (inputs, labels, *more)`: the batch mixed.
    unmixed: `() -> (inputs, labels, *more)` of the same structure: the batch
      in an epoch that does not mix.
    active: whether this epoch mixes (a bool scalar tensor), or None (no
      schedule: every epoch mixes).
    label_smoothing: ε; label rows become y·(1-ε) + ε/K. Labels may be a
      structure of label rows (AdaMixUp's batches); each row is smoothed.

  Returns:
    `(inputs, labels smoothed, *more)`.
  """
  batch = mix() if active is None else tf.cond(active, mix, unmixed)
  labels = tf.nest.map_structure(lambda y: mixing.smooth_labels(y, label_smoothing), batch[1])
  return (batch[0], labels, *batch[2:])


def finisher(mixer: Mixer | None, options: Options):
  """`finish_batch` for batches of float images: `finish(x_a, y_a, fetch_b, drawn, active) -> (images, labels)`,
  where `fetch_b()` gives the partners (called only when they are needed)."""

  def finish(x_a, y_a, fetch_b, drawn, active) -> tuple[tf.Tensor, tf.Tensor]:
    if mixer is None:
      return finish_batch(lambda: (x_a, y_a), None, None, options.label_smoothing)
    return finish_batch(
      lambda: mixer.apply(x_a, y_a, *fetch_b(), drawn),
      lambda: mixer.unmixed(x_a, y_a, drawn),
      active,
      options.label_smoothing,
    )

  return finish


def batch_count(size: int, options: Options) -> int:
  """Batches per epoch of `size` in-memory examples; raises DataError if drop_remainder leaves none."""
  batch_size = options.batch_size
  num_batches = size // batch_size if options.drop_remainder else -(-size // batch_size)
  if num_batches == 0:
    raise DataError(f"drop_remainder with {size} examples < batch_size {batch_size} leaves no batch")
  return num_batches


def class_ids(labels: np.ndarray, fmt: LabelFormat) -> np.ndarray:
  """Class ids `[N]` of integer labels or of label rows (their argmax)."""
  return labels if fmt.sparse else np.argmax(labels, axis=-1)


# (epoch_seed, stream) -> the epoch's order of one pass, int64 [N]
Order = Callable[[tf.Tensor, seeds.Stream], tf.Tensor]


def orders(size: int, options: Options, class_ids: np.ndarray | None = None) -> Order:
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


class EpochBlocks(NamedTuple):
  """One epoch of the in-memory path, before it is cut into batches.

  Attributes:
    full_a, full_b: int64 `[S, B]`: the S full batches' first examples and partners.
    head: the mixer's draws of the full batches, `{name: [S, B, ...]}`.
    rest_a, rest_b: int64 `[R]`: a smaller last batch (R = N mod B; R = 0 without one).
    tail: its draws `{name: [R, ...]}`, or None without a smaller last batch.
    active: whether the epoch mixes (bool scalar), or None (no schedule).
  """

  full_a: tf.Tensor
  full_b: tf.Tensor
  head: dict
  rest_a: tf.Tensor
  rest_b: tf.Tensor
  tail: dict | None
  active: tf.Tensor | None


def array_epochs(  # noqa: PLR0913, PLR0917
  size: int,
  image_shape,
  mixer: Mixer | None,
  options: Options,
  class_ids: np.ndarray | None = None,
  annotate: Annotate | None = None,
  num_classes: int | None = None,
  per_epoch: Callable[["EpochBlocks"], object] | None = None,
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

  With `per_epoch`, no dataset: a compiled function `epoch -> per_epoch(blocks)`
  of that epoch's `EpochBlocks` takes its place (what the epoch loop takes
  at once; the epoch is given, not counted).

  Returns:
    The dataset (or that function), the number of batches per epoch, and the epoch counter.
  """
  batch_size = options.batch_size
  num_batches = batch_count(size, options)
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

  def epoch_blocks(epoch: tf.Tensor) -> tuple:
    # Per epoch, at once: two full permutations (480 KB each for 60k
    # examples) and every draw of the mixer, cut into one row per batch.
    epoch_seed, order_a, order_b, drawn = epoch_draws(
      root, epoch, size, mixer, num_batches, batch_size, image_shape, order_of=order_of
    )
    if redraw is not None:  # excluded class pairs get new partners (pairs.py)
      order_b = redraw.redraw(order_a, order_b, seeds.stream(epoch_seed, seeds.Stream.PARTNERS))
    if annotate is not None:
      drawn = annotate(epoch_seed, order_a, order_b, drawn)
    (full_a, rest_a), (full_b, rest_b) = rows(order_a), rows(order_b)
    head = {name: value[:full_batches] for name, value in drawn.items()}
    tail = {name: value[full_batches] for name, value in drawn.items()} if num_batches > full_batches else None
    if sharded:  # this worker's share of every batch (see shards.py)
      full_a, full_b, head, rest_a, rest_b, tail = shards.share(
        (full_a, full_b, head), (rest_a, rest_b, tail), (options.num_workers, options.worker_index), mixer, epoch_seed
      )
    return EpochBlocks(full_a, full_b, head, rest_a, rest_b, tail, epoch_active(options, epoch))

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    # No function runs per batch here; the parallel map after it gathers and mixes.
    b = epoch_blocks(epoch)
    ds = tf.data.Dataset.from_tensor_slices((b.full_a, b.full_b, b.head))
    if b.tail is not None:
      ds = ds.concatenate(tf.data.Dataset.from_tensors((b.rest_a, b.rest_b, b.tail)))
    return ds if b.active is None else ds.map(lambda a, b_, d: (a, b_, d, b.active))

  if per_epoch is not None:
    # Through tf.data (one element, made on request), so that the arithmetic runs with the same graph
    # options as the batches' (KEEP_GRAPH: a tf.function's rewrites move label weights by an ulp).
    with tf.device("/CPU:0"):
      requested = tf.Variable(0, dtype=tf.int64, trainable=False, name="tfmixup_whole_epoch")
    one = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
    made = one.map(lambda _: per_epoch(epoch_blocks(requested.read_value()))).with_options(KEEP_GRAPH)

    def whole(epoch: int):
      requested.assign(epoch)
      return made.get_single_element()

    return whole, num_batches, counter
  # One element per iteration (the epoch number), then one per batch.
  return counter.dataset().flat_map(epoch_batches), num_batches, counter


def finish_array_pipeline(ds: tf.data.Dataset, num_batches: int, counter: seeds.EpochCounter) -> tf.data.Dataset:
  ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE)
  return counted(ds.with_options(KEEP_GRAPH), counter)


def from_arrays(data: ImageArrays | tuple, mixer: Mixer | None, options: Options) -> tf.data.Dataset:
  images, labels, fmt = arrays_of(data, options.num_classes)
  batch_size, size = options.batch_size, len(labels)
  # Sparse ids as int64 (tf.one_hot takes no other wide integer dtype).
  images_t, labels_t = as_tensor(images), tf.constant(labels.astype(np.int64) if fmt.sparse else labels)

  def fetch(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    x = to_float_images(tf.gather(images_t, indices))
    return x, to_rows(tf.gather(labels_t, indices), fmt, check=False)

  if options.seed is None:  # In order, no mixing: evaluation.
    num_batches = batch_count(size, options)

    def in_order(step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
      start = step * batch_size
      x, y = fetch(tf.range(start, tf.minimum(start + batch_size, size)))
      return x, mixing.smooth_labels(y, options.label_smoothing)

    ds = tf.data.Dataset.range(num_batches).map(in_order, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(KEEP_GRAPH)

  scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0  # as to_float_images
  finish = finisher(mixer, options)

  def batch(index_a: tf.Tensor, index_b: tf.Tensor, drawn: dict, active: tf.Tensor | None = None):
    if mixer is not None and mixer.mixes_stored:
      # Mix the images as stored and scale them in the same pass (see BENCHMARKS.md).
      def mix() -> tuple[tf.Tensor, tf.Tensor]:
        stored_a, stored_b = tf.gather(images_t, index_a), tf.gather(images_t, index_b)
        y_a, y_b = (to_rows(tf.gather(labels_t, i), fmt, check=False) for i in (index_a, index_b))
        return mixer.apply_stored(stored_a, y_a, stored_b, y_b, drawn, scale)

      return finish_batch(mix, lambda: fetch(index_a), active, options.label_smoothing)
    x_a, y_a = fetch(index_a)
    return finish(x_a, y_a, lambda: fetch(index_b), drawn, active)

  epochs, num_batches, counter = array_epochs(
    size, images.shape[1:], mixer, options, class_ids(labels, fmt), num_classes=fmt.num_classes
  )
  # The gathering and mixing of each batch run in one parallel map.
  return finish_array_pipeline(epochs.map(batch, num_parallel_calls=tf.data.AUTOTUNE), num_batches, counter)


# The mixing inputs a device feed's batches may carry (`Mixer.device_inputs`): name -> (dtype, shape of
# one sample's, the value that leaves a sample unmixed). The layer makes x = box ? x_b : w·x_a + (1-w)·x_b.
DEVICE_INPUTS = {
  "weight_a": (tf.float32, (), 1),  # w; 1 keeps the first image
  "boxes": (tf.int32, (4,), 0),  # (top, left, bottom, right), half-open; all 0 is an empty box
}


def index_feed(data: ImageArrays | tuple, mixer: Mixer | None, options: Options) -> tuple[tf.data.Dataset, np.ndarray]:
  """The host half of a device feed: the in-memory stage without the images.

  The same epochs, permutations and draws as the in-memory stage with this
  mixer and options (`array_epochs`), but each batch carries the indices
  of its examples and partners and the mixer's per-batch mixing inputs
  (`Mixer.device_inputs`, made by `Mixer.device_batch`) instead of the
  mixed images; the labels are mixed here, as the stage mixes them (they
  are small). The mixer must have a device feed (`device_inputs()` not
  empty), or be None (no mixing: `weight_a` all 1).

  Returns:
    `(dataset, images, epochs)`: a dataset of `({"index_a": int32 [B], "index_b":
    int32 [B], and of "weight_a": float32 [B] and "boxes": int32 [B, 4]
    those the mixer needs}, labels float32 [B, K])`, one epoch per
    iteration, where the batch's images are x = box ? x_b : w·x_a + (1-w)·x_b
    (w = weight_a, or 1 without one; no box without boxes) of x_a =
    x[index_a] and x_b = x[index_b], scaled as the stages scale them; and
    the validated images `[N, H, W, C]` those indices point into; and
    `epoch -> whole_epoch(...)` of that epoch (numpy arrays: the same
    batches, all at once), or None for a mixer with per-batch draws.

  Raises:
    DataError: as the stages; also a mixer without a device feed.
  """
  names = ("weight_a",) if mixer is None else tuple(mixer.device_inputs())
  if not names:
    raise DataError(
      f"{type(mixer).__name__} has no device feed: its images are neither a per-sample weighted sum nor a pasted"
      " box; use its tf.data stage"
    )
  unknown = sorted(set(names) - set(DEVICE_INPUTS))
  if unknown:
    raise DataError(
      f"{type(mixer).__name__}.device_inputs() names {', '.join(unknown)};"
      f" a device feed takes {', '.join(DEVICE_INPUTS)}"
    )
  images, labels, fmt = arrays_of(data, options.num_classes)
  labels_t = tf.constant(labels.astype(np.int64) if fmt.sparse else labels)
  image_shape = images.shape[1:]

  def label_rows(indices: tf.Tensor) -> tf.Tensor:
    return to_rows(tf.gather(labels_t, indices), fmt, check=False)

  def batch(index_a: tf.Tensor, index_b: tf.Tensor, drawn: dict, active: tf.Tensor | None = None):
    y_a = label_rows(index_a)

    def unmixed() -> tuple[dict, tf.Tensor]:
      size = tf.shape(index_a)[:1]
      neutral = {}
      for name in names:
        dtype, shape, value = DEVICE_INPUTS[name]
        neutral[name] = tf.fill(tf.concat([size, shape], 0), tf.constant(value, dtype))
      return neutral, y_a

    def mix() -> tuple[dict, tf.Tensor]:
      return mixer.device_batch(y_a, label_rows(index_b), drawn, image_shape)

    if mixer is None:
      mix, active = unmixed, None
    mixing_inputs, y = finish_batch(mix, unmixed, active, options.label_smoothing)
    inputs = {"index_a": tf.cast(index_a, tf.int32), "index_b": tf.cast(index_b, tf.int32)}
    inputs.update({name: tf.cast(mixing_inputs[name], DEVICE_INPUTS[name][0]) for name in names})
    return inputs, y

  plan = (len(labels), image_shape, mixer, options, class_ids(labels, fmt))
  epochs, num_batches, counter = array_epochs(*plan, num_classes=fmt.num_classes)
  ds = finish_array_pipeline(epochs.map(batch, num_parallel_calls=tf.data.AUTOTUNE), num_batches, counter)
  if mixer is not None and mixer.per_batch_draws:
    return ds, images, None
  # The same epochs, whole: every batch's inputs at once (per-sample draws: the batch arithmetic on all rows).
  whole, _, _ = array_epochs(*plan, num_classes=fmt.num_classes, per_epoch=lambda blocks: whole_epoch(batch, blocks))

  def epoch_arrays(epoch: int) -> tuple:
    return tf.nest.map_structure(lambda t: t.numpy(), whole(epoch))

  return ds, images, epoch_arrays


def whole_epoch(batch: Callable, blocks: "EpochBlocks") -> tuple:
  """One epoch's batches made at once by `batch` (its arithmetic is per sample), for `index_feed`.

  Returns:
    `(full_inputs {name: [S, B, ...]}, full_labels [S, B, K], rest_inputs
    {name: [R, ...]}, rest_labels [R, K])`: the S full batches stacked, and
    a smaller last batch (R = 0 without one).
  """

  def flat(value: tf.Tensor) -> tf.Tensor:
    return tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], 0))

  def unflat(value: tf.Tensor) -> tf.Tensor:
    return tf.reshape(value, tf.concat([tf.shape(blocks.full_a), tf.shape(value)[1:]], 0))

  head = {name: flat(value) for name, value in blocks.head.items()}
  full_inputs, full_labels = batch(flat(blocks.full_a), flat(blocks.full_b), head, blocks.active)
  full = tf.nest.map_structure(unflat, (full_inputs, full_labels))
  rest_a, rest_b, tail = blocks.rest_a, blocks.rest_b, blocks.tail
  if tail is None:  # no smaller last batch (or dropped): zero rows of the same structure
    rest_a, rest_b, tail = rest_a[:0], rest_b[:0], {name: value[:0] for name, value in head.items()}
  return (*full, *batch(rest_a, rest_b, tail, blocks.active))


def from_dataset(dataset: tf.data.Dataset, mixer: Mixer | None, options: Options) -> tf.data.Dataset:
  if options.sorted_buffer is not None:
    raise DataError("sorted_buffer needs in-memory arrays (it sorts the examples by class), not a tf.data.Dataset")
  if options.exclude_pairs:
    raise DataError("exclude_pairs needs in-memory arrays (it redraws partners by class), not a tf.data.Dataset")
  spec = dataset.element_spec
  if isinstance(spec, dict):  # TFDS's features dict (as_supervised=False)
    if not {"image", "label"} <= set(spec):
      raise DataError(
        f"dataset elements are dicts with keys {sorted(spec)}: map them to (image, label) pairs,"
        " e.g. dataset.map(lambda d: (d['image'], d['label']))"
      )
    dataset = dataset.map(lambda d: (d["image"], d["label"]), num_parallel_calls=tf.data.AUTOTUNE)
    spec = dataset.element_spec
  if not isinstance(spec, tuple) or len(spec) != 2:
    raise DataError(f"dataset elements must be (image, label) pairs, got {spec}")
  check_image_spec(spec[0].dtype, spec[0].shape, "dataset")
  image_shape = spec[0].shape
  if mixer is not None and mixer.needs_image_size and None in image_shape[:2]:
    raise DataError(
      f"dataset: {type(mixer).__name__} needs a known image height and width (it draws boxes in pixels),"
      f" got shape {image_shape}"
    )
  fmt = label_format(spec[1].dtype, spec[1].shape, options.num_classes)
  batch_size, drop_remainder = options.batch_size, options.drop_remainder

  def prepare(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return to_float_images(images), to_rows(labels, fmt)

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
  finish = finisher(mixer, options)

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    # Each epoch shuffles both streams afresh from seeds of its own; the same
    # seed twice would pair each example with itself. This function's graph
    # gets no graph-level seed: `shuffle` would otherwise mix TensorFlow's
    # global seed into its order and, for a global seed of 0
    # (`tf.random.set_seed(0)`), fail to trace with a tensor seed.
    tf.compat.v1.get_default_graph().seed = None
    epoch_seed = seeds.epoch_seed(root, epoch)
    active = epoch_active(options, epoch)

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
  return counted(ds.prefetch(tf.data.AUTOTUNE), counter)


def build(data: Data, mixer: Mixer | None, options: Options) -> tf.data.Dataset:
  if isinstance(data, tf.data.Dataset):
    return from_dataset(data, mixer, options)
  if isinstance(data, ImageArrays | tuple | list):
    return from_arrays(data, mixer, options)
  raise DataError(f"data must be a tf.data.Dataset, ImageArrays or (images, labels) arrays, got {type(data).__name__}")


OPTION_NAMES = tuple(field.name for field in dataclasses.fields(Options))[2:]


def checked_options(batch_size: int, seed: int | None, options: dict) -> Options:
  unknown = sorted(set(options) - set(OPTION_NAMES))
  if unknown:
    raise TypeError(f"unknown stage option(s) {', '.join(unknown)}; the options are {', '.join(OPTION_NAMES)}")
  return Options(batch_size=batch_size, seed=seed, **options)


def mixing_options(batch_size: int, seed: int | None, options: dict) -> Options:
  """Options of a mixing stage: seed=None means a fresh seed (never "no mixing")."""
  return checked_options(batch_size, seeds.fresh_seed() if seed is None else seed, options)


def mixing_stage(data: Data, mixer: Mixer, *, batch_size: int, seed: int | None, **options) -> tf.data.Dataset:
  """A stage that mixes with `mixer`: what every method's public stage function returns.

  Args and Raises: as `tfmixup.datasets.paired` (`options` are the stage
  options, `OPTION_NAMES`); seed None draws a fresh seed.
  """
  return build(data, mixer, mixing_options(batch_size, seed, options))


def batch_rows(values: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
  """A batch's row of per-sample draws cut to the batch's size (the last batch may be smaller)."""
  return values[: tf.shape(batch)[0]]


def check_single_worker(options: dict, name: str) -> None:
  """For stages that do not shard across workers: raises DataError unless `num_workers` is 1."""
  if options.get("num_workers", 1) != 1:
    raise DataError(f"{name} does not shard across workers: use num_workers=1")


def check_even_batches(batch_size: object) -> None:
  """For stages that split each batch of 2m in halves: raises DataError for an odd batch size."""
  if numeric.integer(batch_size) is not None and batch_size % 2:
    raise DataError(f"batch_size must be even (m mixes and m originals per batch), got {batch_size}")


def halves(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Rows [0, m) and [m, 2m) of a batch of n rows, m = n // 2 (an odd last row is dropped)."""
  m = tf.shape(batch)[0] // 2
  return batch[:m], batch[m : 2 * m]
