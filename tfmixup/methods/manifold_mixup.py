"""Manifold Mixup (Verma et al., ICML 2019): a remedy for intrusion; the model mixes hidden states.

The stage yields each batch's examples, partners, λ and mixing layer; the
mixing happens inside the model (`tfmixup.trainers.manifold`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmixup import checks, numeric
from tfmixup.errors import DataError
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf, trainers
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, register

# The mixing points of the three-conv model: the input, after the first and after the second conv block.
NUM_MIXING_POINTS = 3


@dataclasses.dataclass(frozen=True)
class ManifoldPairs(Mixer):
  """Manifold Mixup's draws: one λ ~ Beta(α, α) and one mixing point per batch.

  `apply` returns the inputs of the mixing model, not mixed images, and the
  labels mixed with the batch's λ.

  Attributes:
    alpha: Beta concentration α > 0.
    num_points: the mixing points the layer is drawn from, uniformly: 0 (the
      input) to num_points - 1.
  """

  alpha: float = 1.0
  num_points: int = NUM_MIXING_POINTS
  per_batch_draws: ClassVar[tuple[str, ...]] = ("lam", "layer")  # one per batch, not per sample

  def __post_init__(self) -> None:
    object.__setattr__(self, "alpha", checks.alpha(self.alpha))
    points = numeric.integer(self.num_points)
    if points is None or points < 1:
      raise DataError(f"num_points must be a positive integer, got {self.num_points!r}")
    object.__setattr__(self, "num_points", points)

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    del batch_size, image_shape
    lam_seed, layer_seed = tf.unstack(seeds.split(seed, 2))
    shape = tf.reshape(tf.cast(num_batches, tf.int32), [1])
    lam = draws.sample_beta(shape, self.alpha, lam_seed)
    layer = tf.random.stateless_uniform(shape, layer_seed, minval=0, maxval=self.num_points, dtype=tf.int32)
    return {"lam": lam, "layer": layer}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    lam = tf.fill(tf.shape(images_a)[:1], drawn["lam"])  # [B], one value
    inputs = {"images": images_a, "partners": images_b, "lam": lam[:, tf.newaxis], "layer": drawn["layer"]}
    return inputs, mixing.mix_labels(labels_a, labels_b, lam)

  def unmixed(self, images_a, labels_a, drawn: dict) -> tuple:
    """An epoch a schedule leaves out: λ = 1 at the input, so the model sees `images_a` as they are."""
    del drawn
    ones = tf.ones(tf.shape(images_a)[:1], tf.float32)[:, tf.newaxis]
    return {"images": images_a, "partners": images_a, "lam": ones, "layer": tf.constant(0, tf.int32)}, labels_a


def manifold_pairs(
  data,
  *,
  batch_size: int,
  seed: int | None,
  alpha: float = 1.0,
  num_points: int = NUM_MIXING_POINTS,
  **options,
):
  """Manifold Mixup's batches: examples, partners, one λ and one mixing point per batch, mixed labels.

  Per batch, λ ~ Beta(α, α) (one per batch, the authors' choice) and the
  mixing point uniformly from {0, ..., num_points - 1}, both stateless from
  `seed` (new every epoch). The model mixes the hidden states of both
  batches there (`tfmixup.trainers.manifold.ManifoldMixupTrainer`).

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired` (not
      sharded: num_workers must be 1). A schedule's unmixed epochs give λ = 1
      at the input.
    alpha: Beta concentration α > 0.
    num_points: how many mixing points to draw from (3: the input and
      after each of the three-conv model's two conv blocks).

  Returns:
    A `tf.data.Dataset` of `({"images": float32 [B, H, W, C], "partners":
    float32 [B, H, W, C], "lam": float32 [B, 1] (one value), "layer": int32
    []}, labels float32 [B, K])`, labels λ·y_a + (1-λ)·y_b.

  Raises:
    DataError, LabelError: as `paired`; also a bad α or num_points.
  """
  pipeline.check_single_worker(options, "manifold_pairs")
  mixer = ManifoldPairs(alpha, num_points)
  return pipeline.mixing_stage(data, mixer, batch_size=batch_size, seed=seed, **options)


def _stage(data, config, **options):
  # The trainer's model has NUM_MIXING_POINTS mixing points: num_points is not a knob of the method.
  return manifold_pairs(data, alpha=config.alpha, **options)


register(
  Method(
    name="manifold_mixup",
    label="Manifold Mixup",
    stage=_stage,
    trainer=lambda model, config: trainers.ManifoldMixupTrainer(model),
    uses_alpha=True,
  )
)
