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
  mixer has a device feed (`tfmixup.datasets.device_feed`).
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

  def unmixed(self, images_a, labels_a, drawn: dict) -> tuple:
    """What an epoch a schedule leaves out gives: the first examples as they are."""
    del drawn
    return images_a, labels_a
