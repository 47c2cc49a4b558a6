"""The `Mixer` base class: how a stage turns a pair of batches into one (TF-free until a mixer is used).

A mixer has two halves, kept apart as everywhere in tfmixup:

* `draw(seed, num_batches, batch_size, image_shape)`: every random number
  the mixer needs for `num_batches` batches, drawn at once from one seed
  (the pipeline passes one per epoch on the in-memory path, one per batch
  for a `tf.data.Dataset` input). Returns a dict of tensors whose leading
  dims are `[num_batches, batch_size]` (or `[num_batches]` for the
  `per_batch_draws`).
* `apply(images_a, labels_a, images_b, labels_b, drawn)`: the arithmetic
  for one batch, given that batch's row of the draws (pure functions such
  as `tfmixup.datasets.mixing`).

Optional capabilities are declared here with their defaults, and a mixer
that has one says so by overriding the class attribute and the method:

* `mixes_stored` / `apply_stored(..., scale)`: the same as `apply` on
  images as stored (uint8 in memory), scaling to float in the same pass;
  the in-memory pipeline uses it (fewer passes over the pixels).
* `weighted_sum` / `weights_and_labels(labels_a, labels_b, drawn)`: the
  mixed image is a per-sample weighted sum w·x_a + (1-w)·x_b; returns the
  weights w `[B]` and the mixed labels without touching the images. Such a
  mixer has a device feed (`tfmixup.datasets.device_feed`) by itself.
* `device_inputs()` / `device_batch(labels_a, labels_b, drawn,
  image_shape)`: the mixer has a device feed, whose layer makes each image
  as x = box ? x_b : w·x_a + (1-w)·x_b from per-batch inputs the host
  sends: `"weight_a"` (w, float32 `[B]`; absent: w = 1) and `"boxes"`
  (int32 `[B, 4]`, (top, left, bottom, right) half-open; absent: no box).
  `device_inputs` names those the mixer needs (default: `("weight_a",)`
  for a `weighted_sum` mixer, else none: no device feed); `device_batch`
  gives them and the mixed label rows from the draws, without the images
  (default: from `weights_and_labels`). CutMix sends boxes, Mixup-or-CutMix
  both.
* `needs_image_size`: the draws depend on the image's height and width
  (boxes in pixels), so a `tf.data.Dataset` input must have them known.
* `per_batch_draws`: the names of draws made once per batch, not per
  sample; a worker's share of a batch redraws them rather than cutting
  them (`tfmixup.datasets.shards`).
* `unmixed(images_a, labels_a, drawn)`: what an epoch that a schedule
  leaves out gives (default: the first examples as they are); a mixer whose
  `apply` does not return images overrides it.

Mixers are frozen dataclasses whose fields are the method's knobs (the
keyword arguments of its stage and of `--method_args`); `__post_init__`
checks them with `tfmixup.checks`, which does not import TensorFlow.
"""

from typing import ClassVar


class Mixer:
  """Base class of the mixers. Subclasses implement `draw` and `apply`; see the module docstring."""

  mixes_stored: ClassVar[bool] = False
  weighted_sum: ClassVar[bool] = False
  needs_image_size: ClassVar[bool] = False
  per_batch_draws: ClassVar[tuple[str, ...]] = ()

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    """Every random number of `num_batches` batches, from one int64 `[2]` seed: `{name: [num_batches, B, ...]}`."""
    raise NotImplementedError(f"{type(self).__name__} must implement draw")

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    """One batch mixed: float32 images `[B, H, W, C]`, label rows `[B, K]` and the batch's row of the draws."""
    raise NotImplementedError(f"{type(self).__name__} must implement apply")

  def apply_stored(self, images_a, labels_a, images_b, labels_b, drawn: dict, scale: float) -> tuple:  # noqa: PLR0917
    """As `apply`, on images as stored, times `scale`; only where `mixes_stored` is True."""
    raise NotImplementedError(f"{type(self).__name__} does not mix stored images (mixes_stored is False)")

  def weights_and_labels(self, labels_a, labels_b, drawn: dict) -> tuple:
    """The first images' weights `[B]` and the mixed label rows; only where `weighted_sum` is True."""
    raise NotImplementedError(f"{type(self).__name__}'s images are not a per-sample weighted sum")

  @classmethod
  def device_inputs(cls) -> tuple[str, ...]:
    """The per-batch inputs of the device feed's layer this mixer needs, of `"weight_a"` and `"boxes"` (TF-free).

    Empty: the mixer has no device feed. Default: `("weight_a",)` for a
    `weighted_sum` mixer, else empty.
    """
    return ("weight_a",) if cls.weighted_sum else ()

  def device_batch(self, labels_a, labels_b, drawn: dict, image_shape) -> tuple:
    """One batch of a device feed's host half, from the batch's row of the draws (no images).

    Args:
      labels_a: float32 `[B, K]`, the first examples' label rows.
      labels_b: float32 `[B, K]`, the partners'.
      drawn: the batch's row of `draw`'s dict.
      image_shape: `[H, W, C]`.

    Returns:
      `(inputs, labels)`: `{name: tensor}` for each name of
      `device_inputs()`, and the label rows `[B, K]` that `apply` gives for
      these draws. Default: `weights_and_labels`' weights as `"weight_a"`.
    """
    del image_shape
    weights, labels = self.weights_and_labels(labels_a, labels_b, drawn)
    return {"weight_a": weights}, labels

  def unmixed(self, images_a, labels_a, drawn: dict) -> tuple:
    """What an epoch a schedule leaves out gives: the first examples as they are."""
    del drawn
    return images_a, labels_a
