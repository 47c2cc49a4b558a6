"""SamplePairing (Inoue 2018): the average of two images, the first label kept."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmixup import checks
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, register


@dataclasses.dataclass(frozen=True)
class PairSampling(Mixer):
  """SamplePairing's mixer: the average of two images, the first label.

  Attributes:
    prob: probability that a sample is paired (else left as it is).
  """

  prob: float = 1.0
  mixes_stored: ClassVar[bool] = True
  weighted_sum: ClassVar[bool] = True

  def __post_init__(self) -> None:
    object.__setattr__(self, "prob", checks.probability(self.prob, "prob"))

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    del image_shape
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    lam = tf.fill(shape, 0.5)
    if self.prob < 1.0:
      lam = tf.where(draws.bernoulli(shape, self.prob, seeds.split(seed, 1)[0]), lam, 1.0)
    return {"lam": lam}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    del labels_b  # The partner's label plays no part.
    return mixing.mix_batches(images_a, labels_a, images_b, labels_a, pipeline.batch_rows(drawn["lam"], images_a))

  def apply_stored(self, images_a, labels_a, images_b, labels_b, drawn: dict, scale: float) -> tuple:  # noqa: PLR0917
    del labels_b
    lam = pipeline.batch_rows(drawn["lam"], images_a)
    return mixing.mix_stored_batches(images_a, labels_a, images_b, labels_a, lam, scale)

  def weights_and_labels(self, labels_a, labels_b, drawn: dict) -> tuple:
    del labels_b
    return pipeline.batch_rows(drawn["lam"], labels_a), tf.convert_to_tensor(labels_a, tf.float32)


def pair_sampling(data, *, batch_size: int, seed: int | None, prob: float = 1.0, **options):
  """SamplePairing batches (Inoue 2018): each image averaged with a partner, first label kept.

  For the author's training schedule (off at first, then on and off
  intermittently, off at the end) pass `schedule=Schedule(...)`.

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`.
    prob: probability that a sample is paired.

  Returns:
    A `tf.data.Dataset` of `(images float32 [B, H, W, C], labels float32 [B, K])`
    where each label row is the label of the first image.

  Raises:
    DataError, LabelError: as `paired`.
  """
  return pipeline.mixing_stage(data, PairSampling(prob), batch_size=batch_size, seed=seed, **options)


register(
  Method(
    name="pair_sampling",
    label="pair sampling",
    function=pair_sampling,
    mixer=PairSampling,
    config_knobs={"prob": "prob"},
  )
)
