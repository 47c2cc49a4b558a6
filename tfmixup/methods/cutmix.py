"""CutMix (Yun et al., ICCV 2019): a box of the partner pasted in, labels by the pixels each image gives."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmixup import checks
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, register


@dataclasses.dataclass(frozen=True)
class CutMix(Mixer):
  """CutMix's mixer: a box of the partner pasted in, labels by area.

  λ ~ Beta(α, α) sets the box's size (`draws.sample_boxes`); the label
  weight is then the fraction of pixels each image really gives after the
  box is clipped to the image (`mixing.box_fractions`).

  Attributes:
    alpha: Beta concentration α > 0.
    prob: probability that a sample gets a box (else left as it is).
  """

  alpha: float = 1.0
  prob: float = 1.0
  needs_image_size: ClassVar[bool] = True  # boxes are drawn in pixels

  def __post_init__(self) -> None:
    object.__setattr__(self, "alpha", checks.alpha(self.alpha))
    object.__setattr__(self, "prob", checks.probability(self.prob, "prob"))

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    lam_seed, apply_seed, box_seed = tf.unstack(seeds.split(seed, 3))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    lam = draws.sample_beta(shape, self.alpha, lam_seed)
    if self.prob < 1.0:
      lam = tf.where(draws.bernoulli(shape, self.prob, apply_seed), lam, 1.0)
    return {"boxes": draws.sample_boxes(lam, image_shape[0], image_shape[1], box_seed)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    return mixing.cut_batches(images_a, labels_a, images_b, labels_b, pipeline.batch_rows(drawn["boxes"], images_a))

  @classmethod
  def device_inputs(cls) -> tuple[str, ...]:
    return ("boxes",)  # the device pastes the box (a device feed: `device_feed.device_cutmix`)

  def device_batch(self, labels_a, labels_b, drawn: dict, image_shape) -> tuple:
    boxes = pipeline.batch_rows(drawn["boxes"], labels_a)
    return {"boxes": boxes}, mixing.cut_labels(labels_a, labels_b, boxes, image_shape[0], image_shape[1])


def cutmix(data, *, batch_size: int, seed: int | None, alpha: float = 1.0, prob: float = 1.0, **options):
  """CutMix batches (Yun et al., ICCV 2019): a box of an independent partner pasted into each example.

  Per sample, λ ~ Beta(α, α) sets a box of about (1-λ)·H·W pixels, centred
  uniformly and clipped to the image; the label weights are the fractions
  of pixels each image really contributes (see `mixing.cut_batches`).

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`.
    alpha: Beta concentration α > 0 (the CutMix authors use 1.0).
    prob: probability that a sample gets a box.

  Returns:
    A `tf.data.Dataset` of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return pipeline.mixing_stage(data, CutMix(alpha, prob), batch_size=batch_size, seed=seed, **options)


register(
  Method(name="cutmix", label="CutMix", function=cutmix, mixer=CutMix, config_knobs={"alpha": "alpha", "prob": "prob"})
)
