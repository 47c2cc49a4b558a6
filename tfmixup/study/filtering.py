"""Mixup with "manifold intrusion" filtered out, and its random-drop control: a causal test of intrusion.

A mix of classes i and j intrudes when a judge (`judges.py`) calls it some
third class k. `intrusion_filtered_mixup` draws exactly Mixup's pairs and
λ (`tfmixup.datasets.mixup` with the same seed), judges every mix of an epoch before
the epoch is cut into batches, and then, by `mode`:

* "drop": flagged mixes get sample weight 0, the others 1 (GenLabel's
  `exclude_MI`, with a nearest-neighbour judge).
* "relabel": flagged mixes get the judge's class as a one-hot label; every
  weight is 1.
* "control": as many NON-flagged mixes as there are flagged ones get weight
  0, within each stratum (unordered source class pair × λ bin), chosen
  uniformly at random within the stratum; flagged mixes are kept. If
  filtering helps and this does not, it is the intruding mixes, not fewer
  mixes of those classes and weights, that mattered.

Strata. λ is taken as the weight of the lower class id (1 - λ when the
first image has the higher class; λ for a same-class pair), so the stratum
of (a, b, λ) is that of (b, a, 1 - λ); `bins` equal bins on [0, 1], the last
closed. A stratum with fewer non-flagged mixes than flagged ones has all of
its non-flagged mixes dropped, and no more: the control then drops fewer
than the filter (`intrusion_flags` reports both counts per epoch).

Randomness: the control's choice is keyed by one uniform draw per mix from
the epoch's `seeds.Stream.CONTROL` stream (stateless): the non-flagged mixes
of a stratum with the smallest keys are dropped, a uniformly random subset
of the wanted size, new every epoch.

Sample weights and Keras. `fit` on a dataset of `(x, y, w)` tuples passes
`w` as `sample_weight`; Keras's default loss reduction
("sum_over_batch_size") sums w·loss over the batch and divides by the batch
size, not by Σw. Dropping a mix therefore lowers that step's effective
batch (and its gradient's scale) instead of renormalizing; the control drops
the same number of mixes, so filter and control are matched in this too.
"""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfmixup.datasets import mixing, pipeline, seeds
from tfmixup.datasets.labels import to_rows
from tfmixup.errors import DataError
from tfmixup.methods.mixup import Mixup
from tfmixup.study.judges import Judge

MODES = ("drop", "relabel", "control")


def _check_positive(name: str, value: object) -> int:
  if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
    raise DataError(f"{name} must be a positive integer, got {value!r}")
  return int(value)


def judge_mixes(  # noqa: PLR0913, PLR0917 - the stored images, a pairing, and how to judge
  judge: Judge, images: tf.Tensor, index_a: tf.Tensor, index_b: tf.Tensor, lam: tf.Tensor, scale: float, chunk: int
) -> tf.Tensor:
  """The judge's class of each mix λ·x_a + (1-λ)·x_b, `chunk` mixes at a time.

  The mixes are made as the stage makes them (`mixing.mix_stored_batches`),
  so the judge sees exactly the images training sees.

  Args:
    judge: images float32 `[n, H, W, C]` -> int32 `[n]`.
    images: the stored images `[N, H, W, C]` (uint8 with scale 1/255, or float).
    index_a: int `[M]`, the first images.
    index_b: int `[M]`, their partners.
    lam: float32 `[M]`, the first images' weights.
    scale: the factor that maps stored values to [0, 1].
    chunk: mixes per judge call.

  Returns:
    int32 `[M]`.
  """
  count = tf.shape(index_a)[0]
  pad = (-count) % chunk

  def blocks(values: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.pad(values, [[0, pad]]), [-1, chunk])  # padding: mixes of image 0, discarded

  def one(block: tuple) -> tf.Tensor:
    a, b, weights = block
    no_labels = tf.zeros([chunk, 1], tf.float32)
    mixed, _ = mixing.mix_stored_batches(
      tf.gather(images, a), no_labels, tf.gather(images, b), no_labels, weights, scale
    )
    return tf.cast(judge(mixed), tf.int32)

  elems = (blocks(tf.cast(index_a, tf.int64)), blocks(tf.cast(index_b, tf.int64)), blocks(lam))
  judged = tf.map_fn(one, elems, fn_output_signature=tf.TensorSpec([chunk], tf.int32))
  return tf.reshape(judged, [-1])[:count]


def strata(class_a: tf.Tensor, class_b: tf.Tensor, lam: tf.Tensor, num_classes: int, bins: int) -> tf.Tensor:
  """Each mix's stratum: (unordered class pair, bin of the lower class's weight), int32 `[M]`.

  Stratum id `(low·K + high)·bins + bin`, with low <= high the two classes
  and bin = ⌊w·bins⌋ (at most bins - 1) for w the weight of class `low`
  (λ for a same-class pair). Ids lie in [0, K²·bins).
  """
  low, high = tf.minimum(class_a, class_b), tf.maximum(class_a, class_b)
  weight_low = tf.where(class_a <= class_b, lam, 1.0 - lam)
  which = tf.minimum(tf.cast(tf.floor(weight_low * bins), tf.int32), bins - 1)
  return (low * num_classes + high) * bins + which


def control_drops(flagged: tf.Tensor, stratum: tf.Tensor, num_strata: int, seed: tf.Tensor) -> tf.Tensor:
  """The control's choice: per stratum, as many non-flagged mixes as flagged ones, uniformly at random.

  Each mix gets a uniform key; within its stratum, the non-flagged mixes
  with the smallest keys are dropped (all of them if there are fewer than
  flagged ones). Flagged mixes are never dropped.

  Args:
    flagged: bool `[M]`.
    stratum: int32 `[M]` in [0, num_strata).
    num_strata: the number of stratum ids.
    seed: int64 `[2]` stateless seed.

  Returns:
    bool `[M]`, True where the control drops the mix.
  """
  count = tf.size(flagged)
  keys = tf.random.stateless_uniform([count], seed, dtype=tf.float64)
  # Groups 2s (non-flagged of stratum s) and 2s + 1 (flagged); group + key
  # sorts by group, then by key (float64: exact for the group ids, and 40+
  # bits of the key while there are under 2**12 groups).
  group = stratum * 2 + tf.cast(flagged, tf.int32)
  order = tf.argsort(tf.cast(group, tf.float64) + keys, stable=True)
  sizes = tf.math.bincount(group, minlength=2 * num_strata, maxlength=2 * num_strata, dtype=tf.int32)
  starts = tf.cumsum(sizes, exclusive=True)
  rank_sorted = tf.range(count) - tf.gather(starts, tf.gather(group, order))
  rank = tf.scatter_nd(order[:, tf.newaxis], rank_sorted, [count])
  wanted = tf.math.unsorted_segment_sum(tf.cast(flagged, tf.int32), stratum, num_strata)
  return ~flagged & (rank < tf.gather(wanted, stratum))


class _Prepared:
  """The validated data, mixer and options of a filtered stage (shared by the stage and `intrusion_flags`)."""

  def __init__(self, data, judge, *, batch_size, seed, alpha, prob, bins, chunk, options):  # noqa: PLR0913
    if isinstance(data, tf.data.Dataset):
      raise DataError("intrusion filtering judges each epoch's mixes at once: pass in-memory data, not a Dataset")
    if not callable(judge):
      raise DataError(f"judge must be a function of images, got {type(judge).__name__}")
    self.judge = judge
    self.bins = _check_positive("bins", bins)
    self.chunk = _check_positive("chunk", chunk)
    self.options = pipeline.mixing_options(batch_size, seed, options)
    self.mixer = Mixup(alpha, prob)
    images, labels, self.fmt = pipeline.arrays_of(data, self.options.num_classes)
    self.image_shape, self.size = images.shape[1:], len(labels)
    self.num_classes = self.fmt.num_classes
    self.scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0  # as the stages
    self.images = pipeline.as_tensor(images)
    self.labels = tf.constant(labels.astype(np.int64) if self.fmt.sparse else labels)
    ids = labels if self.fmt.sparse else np.argmax(labels, axis=1)  # soft rows: their largest class
    self.ids = tf.constant(ids.astype(np.int32))
    self.order_of = pipeline.orders(len(labels), self.options, ids)  # full permutations, or the sorted-buffer fault
    self.num_batches = pipeline.batch_count(self.size, self.options)
    self.used = min(self.size, self.num_batches * self.options.batch_size)  # drop_remainder leaves some out

  def flags(self, epoch_seed: tf.Tensor, order_a: tf.Tensor, order_b: tf.Tensor, drawn: dict) -> dict[str, tf.Tensor]:
    """The epoch's mixes, in stream order (position p: batch p // B, row p % B), judged and flagged."""
    index_a, index_b = order_a[: self.used], order_b[: self.used]
    lam = tf.reshape(drawn["lam"], [-1])[: self.used]
    judged = judge_mixes(self.judge, self.images, index_a, index_b, lam, self.scale, self.chunk)
    class_a, class_b = tf.gather(self.ids, index_a), tf.gather(self.ids, index_b)
    flagged = (judged != class_a) & (judged != class_b)
    stratum = strata(class_a, class_b, lam, self.num_classes, self.bins)
    control_seed = seeds.stream(epoch_seed, seeds.Stream.CONTROL)
    dropped = control_drops(flagged, stratum, self.num_classes**2 * self.bins, control_seed)
    return {
      "index_a": index_a,
      "index_b": index_b,
      "lam": lam,
      "judged": judged,
      "flagged": flagged,
      "stratum": stratum,
      "control_dropped": dropped,
    }


def _annotator(prepared: _Prepared, mode: str) -> Callable:
  """`pipeline.array_epochs`'s hook: adds each mix's sample weight (and relabel target) to the draws."""
  num_batches, batch_size = prepared.num_batches, prepared.options.batch_size

  def annotate(epoch_seed: tf.Tensor, order_a: tf.Tensor, order_b: tf.Tensor, drawn: dict) -> dict:
    flags = prepared.flags(epoch_seed, order_a, order_b, drawn)
    dropped = {"drop": flags["flagged"], "control": flags["control_dropped"]}.get(mode)
    extra = {"weight": tf.ones_like(flags["lam"]) if dropped is None else 1.0 - tf.cast(dropped, tf.float32)}
    if mode == "relabel":
      extra["target"] = tf.where(flags["flagged"], flags["judged"], -1)  # -1: keep the mixed label

    def rows(values: tf.Tensor) -> tf.Tensor:
      return tf.reshape(tf.pad(values, [[0, num_batches * batch_size - prepared.used]]), [num_batches, batch_size])

    return {**drawn, **{name: rows(values) for name, values in extra.items()}}

  return annotate


def intrusion_filtered_mixup(  # noqa: PLR0913 - mixup's arguments and the filter's
  data: pipeline.Data,
  *,
  judge: Judge,
  mode: str,
  batch_size: int,
  seed: int | None,
  alpha: float = 1.0,
  prob: float = 1.0,
  bins: int = 10,
  chunk: int = 1024,
  **options,
) -> tf.data.Dataset:
  """Mixup batches with intruding mixes dropped, relabelled, or (the control) matched random drops.

  The pairs and λ are `tfmixup.datasets.mixup`'s with the same seed, alpha, prob and
  options, and so are the images; see the module docstring for the modes,
  the strata and how Keras weighs the losses. Each epoch judges all of its
  mixes first (`chunk` at a time, inside the `tf.data` graph). An epoch a
  `schedule` leaves unmixed yields the first examples unmixed, weight 1.

  Args:
    data: `ImageArrays` or `(images [N, H, W, C], labels)` arrays (in memory).
    judge: images float32 `[n, H, W, C]` in [0, 1] -> int32 class ids `[n]`
      (`judges.nearest_neighbour_judge`, `judges.model_judge`).
    mode: "drop", "relabel" or "control".
    batch_size, seed, **options: as `tfmixup.datasets.paired`.
    alpha: Mixup's Beta concentration α > 0.
    prob: probability that a sample is mixed (else λ = 1).
    bins: λ bins of the control's strata.
    chunk: mixes per judge call.

  Returns:
    A dataset of `(images float32 [B, H, W, C], labels float32 [B, K],
    sample_weight float32 [B])`, one epoch per iteration.

  Raises:
    DataError: a bad mode, bins, chunk, judge or option; a `tf.data.Dataset` input.
    LabelError: as `tfmixup.datasets.paired`.
  """
  if mode not in MODES:
    raise DataError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
  prepared = _Prepared(
    data, judge, batch_size=batch_size, seed=seed, alpha=alpha, prob=prob, bins=bins, chunk=chunk, options=options
  )
  mixer, fmt, options_ = prepared.mixer, prepared.fmt, prepared.options
  images_t, labels_t, scale = prepared.images, prepared.labels, prepared.scale

  def batch(index_a: tf.Tensor, index_b: tf.Tensor, drawn: dict, active: tf.Tensor | None = None):
    count = tf.shape(index_a)[0]
    stored_a = tf.gather(images_t, index_a)
    y_a = to_rows(tf.gather(labels_t, index_a), fmt, check=False)

    def mix() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
      stored_b, y_b = tf.gather(images_t, index_b), to_rows(tf.gather(labels_t, index_b), fmt, check=False)
      images, labels = mixer.apply_stored(stored_a, y_a, stored_b, y_b, drawn, scale)
      if mode == "relabel":
        target = drawn["target"][:count]
        labels = tf.where((target >= 0)[:, tf.newaxis], tf.one_hot(target, fmt.num_classes), labels)
      return images, labels, drawn["weight"][:count]

    def unmixed() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
      return tf.cast(stored_a, tf.float32) * scale, y_a, tf.ones([count], tf.float32)

    return pipeline.finish_batch(mix, unmixed, active, options_.label_smoothing)

  epochs, num_batches, counter = pipeline.array_epochs(
    prepared.size,
    prepared.image_shape,
    mixer,
    options_,
    class_ids=prepared.ids.numpy(),
    annotate=_annotator(prepared, mode),
  )
  ds = epochs.map(batch, num_parallel_calls=tf.data.AUTOTUNE)
  return pipeline.finish_array_pipeline(ds, num_batches, counter)


def intrusion_flags(  # noqa: PLR0913, PLR0917 - the stage's arguments and the epoch
  data: pipeline.Data,
  judge: Judge,
  batch_size: int,
  seed: int,
  alpha: float = 1.0,
  epoch: int = 0,
  *,
  prob: float = 1.0,
  bins: int = 10,
  chunk: int = 1024,
  **options,
) -> dict[str, np.ndarray]:
  """One epoch's mixes of `intrusion_filtered_mixup` (any mode) and what the filter and control do, eagerly.

  Computes exactly what the stage computes for epoch `epoch` (the stage's
  epoch number: `initial_epoch` plus earlier iterations), for reports and
  tests. Arguments as `intrusion_filtered_mixup`.

  Returns:
    numpy arrays `[M]` in stream order (position p: batch p // B, row
    p % B; M = N, or fewer with drop_remainder): `index_a`, `index_b`
    (int64), `lam` (float32, the first image's weight), `judged` (int32,
    the judge's class), `flagged` (bool: neither source class), `stratum`
    (int32, see `strata`), `control_dropped` (bool: the control's drops).
  """
  prepared = _Prepared(
    data, judge, batch_size=batch_size, seed=seed, alpha=alpha, prob=prob, bins=bins, chunk=chunk, options=options
  )
  epoch_seed, order_a, order_b, drawn = pipeline.epoch_draws(
    seeds.root(prepared.options.seed),
    tf.constant(epoch, tf.int64),
    prepared.size,
    prepared.mixer,
    prepared.num_batches,
    prepared.options.batch_size,
    prepared.image_shape,
    order_of=prepared.order_of,
  )
  return {name: value.numpy() for name, value in prepared.flags(epoch_seed, order_a, order_b, drawn).items()}
