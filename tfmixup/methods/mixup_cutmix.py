"""Mixup or CutMix per sample (CutMix with probability `switch_prob`), as timm's `Mixup`."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmixup import checks
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, register


@dataclasses.dataclass(frozen=True)
class MixupOrCutMix(Mixer):
  """Per sample, Mixup or CutMix (CutMix with probability `switch_prob`), as timm's `Mixup`.

  Attributes:
    mixup_alpha: Mixup's Beta concentration.
    cutmix_alpha: CutMix's Beta concentration.
    switch_prob: probability that a mixed sample uses CutMix.
    prob: probability that a sample is mixed at all.
  """

  mixup_alpha: float = 1.0
  cutmix_alpha: float = 1.0
  switch_prob: float = 0.5
  prob: float = 1.0
  needs_image_size: ClassVar[bool] = True  # boxes are drawn in pixels

  def __post_init__(self) -> None:
    object.__setattr__(self, "mixup_alpha", checks.alpha(self.mixup_alpha, "mixup_alpha"))
    object.__setattr__(self, "cutmix_alpha", checks.alpha(self.cutmix_alpha, "cutmix_alpha"))
    object.__setattr__(self, "switch_prob", checks.probability(self.switch_prob, "switch_prob"))
    object.__setattr__(self, "prob", checks.probability(self.prob, "prob"))

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    mix_seed, cut_seed, switch_seed, apply_seed, box_seed = tf.unstack(seeds.split(seed, 5))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    applied = draws.bernoulli(shape, self.prob, apply_seed)
    cut = draws.bernoulli(shape, self.switch_prob, switch_seed)
    lam_mix = tf.where(applied & ~cut, draws.sample_beta(shape, self.mixup_alpha, mix_seed), 1.0)
    lam_cut = tf.where(applied & cut, draws.sample_beta(shape, self.cutmix_alpha, cut_seed), 1.0)
    return {"lam": lam_mix, "boxes": draws.sample_boxes(lam_cut, image_shape[0], image_shape[1], box_seed)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    lam, boxes = pipeline.batch_rows(drawn["lam"], images_a), pipeline.batch_rows(drawn["boxes"], images_a)
    return mixing.mix_or_cut_batches(images_a, labels_a, images_b, labels_b, lam, boxes)

  @classmethod
  def device_inputs(cls) -> tuple[str, ...]:
    return ("weight_a", "boxes")  # λ and the box (a device feed: `device_feed.device_mixup_cutmix`)

  def device_batch(self, labels_a, labels_b, drawn: dict, image_shape) -> tuple:
    lam, boxes = pipeline.batch_rows(drawn["lam"], labels_a), pipeline.batch_rows(drawn["boxes"], labels_a)
    labels = mixing.mix_or_cut_labels(labels_a, labels_b, lam, boxes, image_shape[0], image_shape[1])
    return {"weight_a": lam, "boxes": boxes}, labels


def mixup_cutmix(  # noqa: PLR0913 - the data, the stage's arguments and the four knobs
  data,
  *,
  batch_size: int,
  seed: int | None,
  mixup_alpha: float = 1.0,
  cutmix_alpha: float = 1.0,
  switch_prob: float = 0.5,
  prob: float = 1.0,
  **options,
):
  """Mixup or CutMix per sample, as timm's `Mixup(switch_prob=..., prob=...)`.

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`.
    mixup_alpha: Mixup's Beta concentration α > 0.
    cutmix_alpha: CutMix's Beta concentration α > 0.
    switch_prob: probability that a mixed sample uses CutMix rather than Mixup.
    prob: probability that a sample is mixed at all.

  Returns:
    A `tf.data.Dataset` of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`.
  """
  mixer = MixupOrCutMix(mixup_alpha, cutmix_alpha, switch_prob, prob)
  return pipeline.mixing_stage(data, mixer, batch_size=batch_size, seed=seed, **options)


register(
  Method(
    name="mixup_cutmix",
    label="Mixup or CutMix",
    function=mixup_cutmix,
    mixer=MixupOrCutMix,
    config_knobs={"mixup_alpha": "alpha", "cutmix_alpha": "cutmix_alpha", "switch_prob": "switch_prob", "prob": "prob"},
  )
)
