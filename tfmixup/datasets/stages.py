"""The stages that are not a method of their own: `paired` (your mixing function) and `batches` (no mixing).

The methods' stages (`mixup`, `cutmix`, `mixup_cutmix`, `pair_sampling`,
`resizemix`, ...) live with their mixers in `tfmixup.methods`, one module
each, and are re-exported by `tfmixup.datasets`; all of them are built by
`pipeline.py`, which explains the pairing, the epochs and the seeds.

Options every stage takes (`**options`, see `paired`): `num_classes`,
`drop_remainder`, `shuffle_buffer`, `label_smoothing`, `schedule`,
`initial_epoch`, `exclude_pairs`, `sorted_buffer`, and `num_workers` /
`worker_index` (one worker's share of every batch, for multi-worker
training: see `shards.py`).
"""

import dataclasses
from collections.abc import Callable
from typing import ClassVar

import tensorflow as tf

from tfmixup.datasets import pipeline
from tfmixup.datasets.errors import DataError
from tfmixup.datasets.pipeline import Data, epoch_counter
from tfmixup.datasets.seeds import split
from tfmixup.methods.cutmix import cutmix
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.mixup import mixup
from tfmixup.methods.mixup_cutmix import mixup_cutmix
from tfmixup.methods.pair_sampling import pair_sampling

__all__ = ["Custom", "Data", "batches", "cutmix", "epoch_counter", "mixup", "mixup_cutmix", "pair_sampling", "paired"]

# (images_a, labels_a, images_b, labels_b, seed) -> (images, labels)
Combine = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


@dataclasses.dataclass(frozen=True)
class Custom(Mixer):
  """A user's mixing function of two batches and a per-batch seed.

  Attributes:
    combine: `(images_a, labels_a, images_b, labels_b, seed) -> (images,
      labels)`, with float32 images `[B, H, W, C]`, label rows `[B, K]` and
      an int64 `[2]` seed for `tf.random.stateless_*` ops, new for every
      batch. It must return float32 images of the same shape and float32
      label rows `[B, K]`.
  """

  combine: Combine
  per_batch_draws: ClassVar[tuple[str, ...]] = ("seed",)  # one seed per batch, not per sample (see shards.py)

  def __post_init__(self) -> None:
    if not callable(self.combine):
      raise DataError(f"combine must be a function of two batches and a seed, got {type(self.combine).__name__}")

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del batch_size, image_shape
    return {"seed": split(seed, num_batches)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    images, labels = self.combine(images_a, labels_a, images_b, labels_b, drawn["seed"])
    return tf.cast(images, tf.float32), tf.cast(labels, tf.float32)


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
  return pipeline.mixing_stage(data, Custom(combine), batch_size=batch_size, seed=seed, **options)


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
  return pipeline.build(data, None, pipeline.checked_options(batch_size, seed, options))
