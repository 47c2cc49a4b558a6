"""ResizeMix (Qin et al., 2020, arXiv:2012.11101): the whole partner, shrunk, pasted into a random box.

Per sample, a scale τ ~ U(scale_min, scale_max) (the paper's α = 0.1, β =
0.8) gives a box of h = round(τ·H) by w = round(τ·W) pixels (at least 1),
placed uniformly at random wholly inside the image; the partner image is
resized into it (nearest neighbour: box pixel (r, c) takes the partner's
pixel (⌊r·H/h⌋, ⌊c·W/w⌋), as PyTorch's `interpolate(mode="nearest")`), so
the patch keeps the partner's whole object. The label weights are the
pixel fractions: the partner's h·w / (H·W), exactly as CutMix's
(`mixing.box_fractions`).

The whole method is this file: the draws (`draw_boxes`), the arithmetic
(`paste_resized`), the mixer, the stage `resizemix` and its registration.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmixup import checks
from tfmixup.errors import DataError
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, register


def draw_boxes(scale, applied, height: int, width: int, seed):
  """ResizeMix boxes: h = round(τ·H), w = round(τ·W) (at least 1), placed uniformly wholly inside the image.

  Args:
    scale: float32 `[...]`, τ in (0, 1].
    applied: bool `[...]`: samples that get a box (the others an empty one).
    height: H.
    width: W.
    seed: int64 `[2]` stateless seed of the positions.

  Returns:
    int32 `[..., 4]`: (top, left, bottom, right), half-open, within the image.
  """
  scale = tf.cast(scale, tf.float32)
  h = tf.clip_by_value(tf.cast(tf.round(scale * float(height)), tf.int32), 1, height)
  w = tf.clip_by_value(tf.cast(tf.round(scale * float(width)), tf.int32), 1, width)
  h, w = tf.where(applied, h, 0), tf.where(applied, w, 0)
  row_seed, col_seed = tf.unstack(seeds.split(seed, 2))
  shape = tf.shape(scale)

  def start(size, extent: int, position_seed):
    # Uniform over the extent - size + 1 positions (the min guards u's top float value).
    places = extent - size + 1
    u = tf.random.stateless_uniform(shape, position_seed, dtype=tf.float32)
    return tf.minimum(tf.cast(u * tf.cast(places, tf.float32), tf.int32), places - 1)

  top, left = start(h, height, row_seed), start(w, width, col_seed)
  return tf.stack([top, left, top + h, left + w], axis=-1)


def paste_resized(images_a, labels_a, images_b, labels_b, boxes):
  """ResizeMix of two batches: each partner, resized to its box (nearest neighbour), pasted into the first image.

  Args:
    images_a: float32 `[B, H, W, C]`.
    labels_a: float32 `[B, K]`.
    images_b: float32 `[B, H, W, C]`, the partners.
    labels_b: float32 `[B, K]`.
    boxes: int32 `[B, 4]` (top, left, bottom, right) within the image; an
      empty box leaves the sample unchanged.

  Returns:
    `(images [B, H, W, C], labels [B, K])`: box pixel (r, c) is the
    partner's pixel (⌊(r - top)·H/h⌋, ⌊(c - left)·W/w⌋); label weights are
    the pixel fractions, each a pixel count divided once by H·W.
  """
  images_a = tf.convert_to_tensor(images_a, dtype=tf.float32)
  images_b = tf.convert_to_tensor(images_b, dtype=tf.float32)
  height, width = images_a.shape[1], images_a.shape[2]
  boxes = tf.convert_to_tensor(boxes, dtype=tf.int32)
  top, left, bottom, right = tf.unstack(boxes, axis=-1)

  def sources(extent: int, start, stop):
    # The partner's row (column) shown at each row (column) of the image; outside the box, clipped (masked).
    size = tf.maximum(stop - start, 1)[:, tf.newaxis]
    at = tf.range(extent, dtype=tf.int32)[tf.newaxis, :] - start[:, tf.newaxis]
    return tf.clip_by_value((at * extent) // size, 0, extent - 1)  # [B, extent]

  resized = tf.gather(images_b, sources(height, top, bottom), axis=1, batch_dims=1)
  resized = tf.gather(resized, sources(width, left, right), axis=2, batch_dims=1)
  # Pasting the resized partner into the box, labels by pixel fractions: CutMix's arithmetic.
  return mixing.cut_batches(images_a, labels_a, resized, labels_b, boxes)


@dataclasses.dataclass(frozen=True)
class ResizeMix(Mixer):
  """ResizeMix's mixer: the partner resized into a random box, labels by area.

  Attributes:
    scale_min: the smallest scale τ (box side / image side), in (0, 1].
    scale_max: the largest scale τ, in [scale_min, 1].
    prob: probability that a sample gets a box (else left as it is).
  """

  scale_min: float = 0.1
  scale_max: float = 0.8
  prob: float = 1.0
  needs_image_size: ClassVar[bool] = True  # boxes are drawn in pixels

  def __post_init__(self) -> None:
    low = checks.probability(self.scale_min, "scale_min")
    high = checks.probability(self.scale_max, "scale_max")
    if not 0 < low <= high:
      raise DataError(f"ResizeMix needs 0 < scale_min <= scale_max <= 1, got {self.scale_min!r}, {self.scale_max!r}")
    object.__setattr__(self, "scale_min", low)
    object.__setattr__(self, "scale_max", high)
    object.__setattr__(self, "prob", checks.probability(self.prob, "prob"))

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    scale_seed, apply_seed, box_seed = tf.unstack(seeds.split(seed, 3))
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size])
    scale = tf.random.stateless_uniform(shape, scale_seed, minval=self.scale_min, maxval=self.scale_max)
    if self.scale_min == self.scale_max:  # (stateless_uniform needs minval < maxval)
      scale = tf.fill(shape, self.scale_min)
    applied = draws.bernoulli(shape, self.prob, apply_seed)
    return {"boxes": draw_boxes(scale, applied, image_shape[0], image_shape[1], box_seed)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    return paste_resized(images_a, labels_a, images_b, labels_b, pipeline.batch_rows(drawn["boxes"], images_a))


def resizemix(  # noqa: PLR0913 - the data, the stage's arguments and the three knobs
  data,
  *,
  batch_size: int,
  seed: int | None,
  scale_min: float = 0.1,
  scale_max: float = 0.8,
  prob: float = 1.0,
  **options,
):
  """ResizeMix batches (Qin et al., 2020): each example gets an independent partner, shrunk, in a random box.

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`.
    scale_min: the smallest scale τ of the box (side / image side), in (0, 1].
    scale_max: the largest, in [scale_min, 1]; τ ~ U(scale_min, scale_max).
    prob: probability that a sample gets a box.

  Returns:
    A `tf.data.Dataset` of `(images float32 [B, H, W, C], labels float32 [B, K])`.

  Raises:
    DataError, LabelError: as `paired`; also scales outside 0 < scale_min <= scale_max <= 1.
  """
  mixer = ResizeMix(scale_min, scale_max, prob)
  return pipeline.mixing_stage(data, mixer, batch_size=batch_size, seed=seed, **options)


register(
  Method(name="resizemix", label="ResizeMix", function=resizemix, mixer=ResizeMix, config_knobs={"prob": "prob"})
)
