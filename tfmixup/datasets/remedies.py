"""Stages of the remedies for intrusion: Manifold Mixup, AdaMixUp and its control, Mixup with a clean half.

They use the stages' plumbing (`stages._stage`: two independent permutations
per epoch, every draw from the seed tree of `seeds.py`), with mixers whose
`apply` does not always return mixed images:

* `manifold_pairs` yields each batch's examples, partners, λ and mixing
  layer; the mixing happens inside the model (`tfmixup.trainers.manifold`).
* `adamixup_batches` yields m first examples, m partners, m other originals
  and the uniforms u of each batch of 2m; λ is set by AdaMixUp's policy
  network inside the model (`tfmixup.trainers.adamixup`).
* `mixup_clean_half` mixes the first m examples of each batch of 2m with
  their partners and appends the same m examples unmixed: what AdaMixUp's
  classifier sees, with λ ~ Beta(α, α) instead of a learned policy.

In the last two, a batch of 2m examples of the first pass gives m first
examples (and m others, for AdaMixUp); the batch size must be even, and by
default the last, smaller batch is dropped (`drop_remainder=True`), so that
every batch has m >= 1. None of these stages shards across workers.
"""

import dataclasses

import tensorflow as tf

from tfmixup import numeric
from tfmixup.datasets import draws, mixing, stages
from tfmixup.datasets.errors import DataError
from tfmixup.datasets.mixers import check_alpha
from tfmixup.datasets.seeds import split

# The mixing points of the three-conv model: the input, after the first and after the second conv block.
NUM_MIXING_POINTS = 3


def _check_even(batch_size: object) -> None:
  if numeric.integer(batch_size) is not None and batch_size % 2:
    raise DataError(f"batch_size must be even (m mixes and m originals per batch), got {batch_size}")


def _single_worker(options: dict, name: str) -> None:
  if options.get("num_workers", 1) != 1:
    raise DataError(f"{name} does not shard across workers: use num_workers=1")


def _halves(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Rows [0, m) and [m, 2m) of a batch of n rows, m = n // 2 (an odd last row is dropped)."""
  m = tf.shape(batch)[0] // 2
  return batch[:m], batch[m : 2 * m]


@dataclasses.dataclass(frozen=True)
class ManifoldPairs:
  """Manifold Mixup's draws (Verma et al., ICML 2019): one λ ~ Beta(α, α) and one mixing point per batch.

  `apply` returns the inputs of the mixing model, not mixed images, and the
  labels mixed with the batch's λ.

  Attributes:
    alpha: Beta concentration α > 0.
    num_points: the mixing points the layer is drawn from, uniformly: 0 (the
      input) to num_points - 1.
  """

  alpha: float = 1.0
  num_points: int = NUM_MIXING_POINTS
  per_batch_draws = ("lam", "layer")  # one per batch, not per sample

  def __post_init__(self) -> None:
    object.__setattr__(self, "alpha", check_alpha(self.alpha))
    points = numeric.integer(self.num_points)
    if points is None or points < 1:
      raise DataError(f"num_points must be a positive integer, got {self.num_points!r}")
    object.__setattr__(self, "num_points", points)

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del batch_size, image_shape
    lam_seed, layer_seed = tf.unstack(split(seed, 2))
    shape = tf.reshape(tf.cast(num_batches, tf.int32), [1])
    lam = draws.sample_beta(shape, self.alpha, lam_seed)
    layer = tf.random.stateless_uniform(shape, layer_seed, minval=0, maxval=self.num_points, dtype=tf.int32)
    return {"lam": lam, "layer": layer}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[dict, tf.Tensor]:
    lam = tf.fill(tf.shape(images_a)[:1], drawn["lam"])  # [B], one value
    inputs = {"images": images_a, "partners": images_b, "lam": lam[:, tf.newaxis], "layer": drawn["layer"]}
    return inputs, mixing.mix_labels(labels_a, labels_b, lam)

  def unmixed(self, images_a, labels_a, drawn: dict) -> tuple[dict, tf.Tensor]:
    """An epoch a schedule leaves out: λ = 1 at the input, so the model sees `images_a` as they are."""
    del drawn
    ones = tf.ones(tf.shape(images_a)[:1], tf.float32)[:, tf.newaxis]
    return {"images": images_a, "partners": images_a, "lam": ones, "layer": tf.constant(0, tf.int32)}, labels_a


@dataclasses.dataclass(frozen=True)
class AdaMixUpBatches:
  """AdaMixUp's batches (Guo, Mao, Zhang, AAAI 2019): pairs to mix, other originals, and u ~ U(0, 1) per pair."""

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del image_shape
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size // 2])
    return {"u": tf.random.stateless_uniform(shape, split(seed, 1)[0], dtype=tf.float32)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[dict, dict]:
    first, others = _halves(images_a)
    m = tf.shape(first)[0]
    inputs = {"first": first, "partners": images_b[:m], "others": others, "u": drawn["u"][:m]}
    return inputs, {"first_labels": labels_a[:m], "partner_labels": labels_b[:m]}


@dataclasses.dataclass(frozen=True)
class MixupCleanHalf:
  """Mixup of the first m examples of each batch of 2m, followed by the same m examples unmixed.

  Attributes:
    alpha: Beta concentration α > 0; λ ~ Beta(α, α) per mixed example.
  """

  alpha: float = 1.0

  def __post_init__(self) -> None:
    object.__setattr__(self, "alpha", check_alpha(self.alpha))

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del image_shape
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size // 2])
    return {"lam": draws.sample_beta(shape, self.alpha, split(seed, 1)[0])}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    first, _ = _halves(images_a)
    m = tf.shape(first)[0]
    mixed, mixed_labels = mixing.mix_batches(first, labels_a[:m], images_b[:m], labels_b[:m], drawn["lam"][:m])
    return tf.concat([mixed, first], 0), tf.concat([mixed_labels, labels_a[:m]], 0)


def manifold_pairs(
  data: stages.Data,
  *,
  batch_size: int,
  seed: int | None,
  alpha: float = 1.0,
  num_points: int = NUM_MIXING_POINTS,
  **options,
) -> tf.data.Dataset:
  """Manifold Mixup's batches: examples, partners, one λ and one mixing point per batch, mixed labels.

  Per batch, λ ~ Beta(α, α) (one per batch, the authors' choice) and the
  mixing point uniformly from {0, ..., num_points - 1}, both stateless from
  `seed` (new every epoch). The model mixes the hidden states of both
  batches there (`tfmixup.trainers.manifold.ManifoldMixupTrainer`).

  Args:
    data, batch_size, seed, **options: as `stages.paired` (not sharded:
      num_workers must be 1). A schedule's unmixed epochs give λ = 1 at the input.
    alpha: Beta concentration α > 0.
    num_points: how many mixing points to draw from (3: the input and
      after each of the three-conv model's two conv blocks).

  Returns:
    A dataset of `({"images": float32 [B, H, W, C], "partners": float32
    [B, H, W, C], "lam": float32 [B, 1] (one value), "layer": int32 []},
    labels float32 [B, K])`, labels λ·y_a + (1-λ)·y_b.

  Raises:
    DataError, LabelError: as `stages.paired`; also a bad α or num_points.
  """
  _single_worker(options, "manifold_pairs")
  mixer = ManifoldPairs(alpha, num_points)
  return stages._stage(data, mixer, stages._mixing_options(batch_size, seed, options))


def adamixup_batches(data: stages.Data, *, batch_size: int, seed: int | None, **options) -> tf.data.Dataset:
  """AdaMixUp's batches: of each batch of 2m first examples, m to mix, their partners, m other originals.

  The stage does not mix: AdaMixUp's policy network sets each pair's λ = a
  + u·b inside the model (`tfmixup.trainers.adamixup.AdaMixUpTrainer`);
  the stage draws u ~ U(0, 1) per pair, stateless from `seed`.

  Args:
    data, batch_size, seed, **options: as `stages.paired`; batch_size must be
      even; drop_remainder defaults to True; no schedule; num_workers must be 1.

  Returns:
    A dataset of `({"first": float32 [m, H, W, C], "partners": float32 [m,
    H, W, C], "others": float32 [m, H, W, C], "u": float32 [m]},
    {"first_labels": float32 [m, K], "partner_labels": float32 [m, K]})`.

  Raises:
    DataError, LabelError: as `stages.paired`; also an odd batch size or a schedule.
  """
  _check_even(batch_size)
  _single_worker(options, "adamixup_batches")
  if options.get("schedule") is not None:
    raise DataError("adamixup_batches takes no schedule: the policy network mixes every batch")
  options.setdefault("drop_remainder", True)
  return stages._stage(data, AdaMixUpBatches(), stages._mixing_options(batch_size, seed, options))


def mixup_clean_half(
  data: stages.Data, *, batch_size: int, seed: int | None, alpha: float = 1.0, **options
) -> tf.data.Dataset:
  """Mixup plus the same clean half, AdaMixUp's control (as RegMixup pairs mixes with their originals).

  Of each batch of 2m first examples, the first m are mixed with
  independent partners (λ ~ Beta(α, α) per example) and followed by the
  same m examples unmixed; the other m are not used, as AdaMixUp's
  classifier does not see them. An epoch has as many steps as AdaMixUp's.

  Args:
    data, batch_size, seed, **options: as `stages.paired`; batch_size must be
      even; drop_remainder defaults to True; num_workers must be 1.
    alpha: Beta concentration α > 0.

  Returns:
    A dataset of `(images float32 [2m, H, W, C], labels float32 [2m, K])`:
    rows [0, m) mixed, rows [m, 2m) their first examples clean.

  Raises:
    DataError, LabelError: as `stages.paired`; also an odd batch size.
  """
  _check_even(batch_size)
  _single_worker(options, "mixup_clean_half")
  options.setdefault("drop_remainder", True)
  return stages._stage(data, MixupCleanHalf(alpha), stages._mixing_options(batch_size, seed, options))
