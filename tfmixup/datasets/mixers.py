"""Mixers: how a stage turns a pair of batches into one.

A mixer has two halves, kept apart as everywhere in tfmixup:

* `draw(seed, num_batches, batch_size, image_shape)`: every random number
  the mixer needs for `num_batches` batches, drawn at once from one seed
  (the stage passes one per epoch on the in-memory path, one per batch for
  a `tf.data.Dataset` input). Returns a dict of tensors whose leading dims
  are `[num_batches, batch_size]` (or `[num_batches]` for per-batch values).
* `apply(images_a, labels_a, images_b, labels_b, draws)`: the arithmetic
  for one batch, given that batch's row of the draws (`mixing.py`).
* optionally `apply_stored(..., scale)`: the same on images as stored
  (uint8 in memory), scaling to float in the same pass; the in-memory path
  uses it where a mixer has it (fewer passes over the pixels).
* optionally `weights_and_labels(labels_a, labels_b, draws)`, for mixers
  whose image is a per-sample weighted sum w·x_a + (1-w)·x_b (Mixup, pair
  sampling): the weights w `[B]` and the mixed labels, without touching
  the images. The device feed (`device_feed.py`) sends these and mixes the
  images where they are resident.

Drawing an epoch's numbers at once costs one op per epoch instead of a
dozen per batch (see BENCHMARKS.md). Every mixer draws per sample; a
sample that is not mixed (apply probability `prob`) keeps its own image and
label. `Custom` wraps a user's function of two batches and a seed.
"""

import dataclasses
import math
from collections.abc import Callable

import tensorflow as tf

from tfmixup.datasets import draws, mixing
from tfmixup.datasets.errors import DataError
from tfmixup.datasets.seeds import split

# (images_a, labels_a, images_b, labels_b, seed) -> (images, labels)
Combine = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


def check_alpha(alpha: float, name: str = "alpha") -> float:
  """Returns α as a float, or raises DataError unless it is finite and > 0."""
  try:
    value = float(alpha)
  except (TypeError, ValueError):
    raise DataError(f"{name} must be a number > 0, got {alpha!r}") from None
  if not math.isfinite(value) or value <= 0:
    raise DataError(f"{name} must be finite and > 0, got {alpha!r}")
  return value


def check_probability(prob: float, name: str) -> float:
  """Returns a probability as a float, or raises DataError unless it is in [0, 1]."""
  try:
    value = float(prob)
  except (TypeError, ValueError):
    raise DataError(f"{name} must be a probability in [0, 1], got {prob!r}") from None
  if not 0.0 <= value <= 1.0:  # also rejects NaN
    raise DataError(f"{name} must be a probability in [0, 1], got {prob!r}")
  return value


def _check_alpha_and_prob(mixer) -> None:
  """Checks and normalizes a frozen mixer's `alpha` and `prob` fields in place."""
  object.__setattr__(mixer, "alpha", check_alpha(mixer.alpha))
  object.__setattr__(mixer, "prob", check_probability(mixer.prob, "prob"))


def _rows(values: tf.Tensor, images: tf.Tensor) -> tf.Tensor:
  """A batch's draws cut to its size (the last batch may be smaller)."""
  return values[: tf.shape(images)[0]]


@dataclasses.dataclass(frozen=True)
class Mixup:
  """Mixup (Zhang et al., ICLR 2018): λ ~ Beta(α, α) per sample, images and labels alike.

  Attributes:
    alpha: Beta concentration α > 0.
    prob: probability that a sample is mixed (else λ = 1).
  """

  alpha: float = 1.0
  prob: float = 1.0

  def __post_init__(self) -> None:
    _check_alpha_and_prob(self)

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del image_shape
    lam_seed, apply_seed = tf.unstack(split(seed, 2))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    lam = draws.sample_beta(shape, self.alpha, lam_seed)
    if self.prob < 1.0:
      lam = tf.where(draws.bernoulli(shape, self.prob, apply_seed), lam, 1.0)
    return {"lam": lam}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    return mixing.mix_batches(images_a, labels_a, images_b, labels_b, _rows(drawn["lam"], images_a))

  def apply_stored(self, images_a, labels_a, images_b, labels_b, drawn: dict, scale: float):  # noqa: PLR0917
    return mixing.mix_stored_batches(images_a, labels_a, images_b, labels_b, _rows(drawn["lam"], images_a), scale)

  def weights_and_labels(self, labels_a, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    lam = _rows(drawn["lam"], labels_a)
    return lam, mixing.mix_labels(labels_a, labels_b, lam)


@dataclasses.dataclass(frozen=True)
class PairSampling:
  """SamplePairing (Inoue 2018): the average of two images, the first label.

  Attributes:
    prob: probability that a sample is paired (else left as it is).
  """

  prob: float = 1.0

  def __post_init__(self) -> None:
    object.__setattr__(self, "prob", check_probability(self.prob, "prob"))

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del image_shape
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    lam = tf.fill(shape, 0.5)
    if self.prob < 1.0:
      lam = tf.where(draws.bernoulli(shape, self.prob, split(seed, 1)[0]), lam, 1.0)
    return {"lam": lam}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    del labels_b  # The partner's label plays no part.
    return mixing.mix_batches(images_a, labels_a, images_b, labels_a, _rows(drawn["lam"], images_a))

  def apply_stored(self, images_a, labels_a, images_b, labels_b, drawn: dict, scale: float):  # noqa: PLR0917
    del labels_b
    return mixing.mix_stored_batches(images_a, labels_a, images_b, labels_a, _rows(drawn["lam"], images_a), scale)

  def weights_and_labels(self, labels_a, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    del labels_b
    return _rows(drawn["lam"], labels_a), tf.convert_to_tensor(labels_a, tf.float32)


@dataclasses.dataclass(frozen=True)
class CutMix:
  """CutMix (Yun et al., ICCV 2019): a box of the partner pasted in, labels by area.

  λ ~ Beta(α, α) sets the box's size (`draws.sample_boxes`); the label
  weight is then the fraction of pixels each image really gives after the
  box is clipped to the image (`mixing.box_fractions`).

  Attributes:
    alpha: Beta concentration α > 0.
    prob: probability that a sample gets a box (else left as it is).
  """

  alpha: float = 1.0
  prob: float = 1.0
  needs_image_size = True  # boxes are drawn in pixels

  def __post_init__(self) -> None:
    _check_alpha_and_prob(self)

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    lam_seed, apply_seed, box_seed = tf.unstack(split(seed, 3))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    lam = draws.sample_beta(shape, self.alpha, lam_seed)
    if self.prob < 1.0:
      lam = tf.where(draws.bernoulli(shape, self.prob, apply_seed), lam, 1.0)
    return {"boxes": draws.sample_boxes(lam, image_shape[0], image_shape[1], box_seed)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    return mixing.cut_batches(images_a, labels_a, images_b, labels_b, _rows(drawn["boxes"], images_a))


@dataclasses.dataclass(frozen=True)
class MixupOrCutMix:
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
  needs_image_size = True  # boxes are drawn in pixels

  def __post_init__(self) -> None:
    object.__setattr__(self, "mixup_alpha", check_alpha(self.mixup_alpha, "mixup_alpha"))
    object.__setattr__(self, "cutmix_alpha", check_alpha(self.cutmix_alpha, "cutmix_alpha"))
    object.__setattr__(self, "switch_prob", check_probability(self.switch_prob, "switch_prob"))
    object.__setattr__(self, "prob", check_probability(self.prob, "prob"))

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    mix_seed, cut_seed, switch_seed, apply_seed, box_seed = tf.unstack(split(seed, 5))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    applied = draws.bernoulli(shape, self.prob, apply_seed)
    cut = draws.bernoulli(shape, self.switch_prob, switch_seed)
    lam_mix = tf.where(applied & ~cut, draws.sample_beta(shape, self.mixup_alpha, mix_seed), 1.0)
    lam_cut = tf.where(applied & cut, draws.sample_beta(shape, self.cutmix_alpha, cut_seed), 1.0)
    return {"lam": lam_mix, "boxes": draws.sample_boxes(lam_cut, image_shape[0], image_shape[1], box_seed)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    lam, boxes = _rows(drawn["lam"], images_a), _rows(drawn["boxes"], images_a)
    return mixing.mix_or_cut_batches(images_a, labels_a, images_b, labels_b, lam, boxes)


@dataclasses.dataclass(frozen=True)
class Custom:
  """A user's mixing function of two batches and a per-batch seed.

  Attributes:
    combine: `(images_a, labels_a, images_b, labels_b, seed) -> (images,
      labels)`, with float32 images `[B, H, W, C]`, label rows `[B, K]` and
      an int64 `[2]` seed for `tf.random.stateless_*` ops, new for every
      batch. It must return float32 images of the same shape and float32
      label rows `[B, K]`.
  """

  combine: Combine
  per_batch_draws = ("seed",)  # one seed per batch, not per sample (see shards.py)

  def __post_init__(self) -> None:
    if not callable(self.combine):
      raise DataError(f"combine must be a function of two batches and a seed, got {type(self.combine).__name__}")

  def draw(self, seed: tf.Tensor, num_batches, batch_size: int, image_shape) -> dict[str, tf.Tensor]:
    del batch_size, image_shape
    return {"seed": split(seed, num_batches)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple[tf.Tensor, tf.Tensor]:
    images, labels = self.combine(images_a, labels_a, images_b, labels_b, drawn["seed"])
    return tf.cast(images, tf.float32), tf.cast(labels, tf.float32)
