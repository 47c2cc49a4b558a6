"""Mixup (Zhang et al., ICLR 2018): λ ~ Beta(α, α) per sample, images and labels mixed alike."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmixup import checks
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, register


@dataclasses.dataclass(frozen=True)
class Mixup(Mixer):
  """Mixup's mixer: λ ~ Beta(α, α) per sample; λ·x_a + (1-λ)·x_b, labels alike.

  Attributes:
    alpha: Beta concentration α > 0.
    prob: probability that a sample is mixed (else λ = 1).
  """

  alpha: float = 1.0
  prob: float = 1.0
  mixes_stored: ClassVar[bool] = True
  weighted_sum: ClassVar[bool] = True

  def __post_init__(self) -> None:
    object.__setattr__(self, "alpha", checks.alpha(self.alpha))
    object.__setattr__(self, "prob", checks.probability(self.prob, "prob"))

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    del image_shape
    lam_seed, apply_seed = tf.unstack(seeds.split(seed, 2))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    lam = draws.sample_beta(shape, self.alpha, lam_seed)
    if self.prob < 1.0:
      lam = tf.where(draws.bernoulli(shape, self.prob, apply_seed), lam, 1.0)
    return {"lam": lam}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    return mixing.mix_batches(images_a, labels_a, images_b, labels_b, pipeline.batch_rows(drawn["lam"], images_a))

  def apply_stored(self, images_a, labels_a, images_b, labels_b, drawn: dict, scale: float) -> tuple:  # noqa: PLR0917
    lam = pipeline.batch_rows(drawn["lam"], images_a)
    return mixing.mix_stored_batches(images_a, labels_a, images_b, labels_b, lam, scale)

  def weights_and_labels(self, labels_a, labels_b, drawn: dict) -> tuple:
    lam = pipeline.batch_rows(drawn["lam"], labels_a)
    return lam, mixing.mix_labels(labels_a, labels_b, lam)


def mixup(data, *, batch_size: int, seed: int | None, alpha: float = 1.0, prob: float = 1.0, **options):
  """Mixup batches (Zhang et al., ICLR 2018): each example mixed with an independent partner.

  Per sample, λ ~ Beta(α, α); image and label rows are mixed with the same λ
  (see `mixing.mix_batches`).

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`.
    alpha: Beta concentration α > 0. 1.0 draws λ uniformly, as in the Mixup
      authors' CIFAR-10 code; small α keeps λ near 0 or 1.
    prob: probability that a sample is mixed (else it is passed as it is).

  Returns:
    A `tf.data.Dataset` of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return pipeline.mixing_stage(data, Mixup(alpha, prob), batch_size=batch_size, seed=seed, **options)


register(
  Method(name="mixup", label="Mixup", function=mixup, mixer=Mixup, config_knobs={"alpha": "alpha", "prob": "prob"})
)
