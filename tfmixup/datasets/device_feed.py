"""The device feed: the dataset resident on the accelerator, mixed inside the compiled training step.

On a GPU the `tf.data` stages are not what limits training: the per-batch
hand-off of float images from the host is (issue 9 of the project, measured
on an H200: Mixup-fed training reached 0.48-0.76x of `model.fit` on arrays
already in memory). The device feed splits a stage in two:

* host (`pipeline.index_feed`, tf.data): the stage's own epochs,
  permutations and draws, exactly as the in-memory stage makes them, but
  each batch carries only the indices of its examples and partners, `int32
  [B]` twice, and what mixes them: the weights `float32 [B]` (Mixup, pair
  sampling), the CutMix boxes `int32 [B, 4]`, or both (Mixup or CutMix),
  with the mixed labels `[B, K]`; a few KB per batch instead of the images;
* device (`ResidentImages`, a Keras layer): the stored images (uint8 for
  MNIST: 47 MB) as a non-trainable variable, and per batch, inside the
  compiled step, gather both sets of examples, build the boxes' masks
  (comparisons of row and column numbers against the box edges), scale
  and mix, in `keras.ops`, so under any Keras backend (JAX, TensorFlow,
  PyTorch).

The batches are the in-memory stage's batches: same pairs, same λ and boxes,
same labels (tested against the stage: labels exactly, images to float
rounding; CutMix's pixels are selected, not computed), so the device feed
has the stage's guarantees: partners from the whole dataset, new and
independent every epoch, per-sample draws, seeded, resumable with
`initial_epoch`. λ and the boxes are drawn on the host once per epoch, as
the stages draw them: drawing λ inside each step cost 35-60% on a GPU
(`ANCHORS.md`).

  feed = tfmixup.datasets.device_mixup(train, batch_size=128, seed=0, alpha=1.0)
  trainer = feed.model(model)          # indices in, the model's outputs out
  trainer.compile(...)                 # shares the model's weights
  trainer.fit(feed.dataset, epochs=10)
  model.evaluate(...)                  # the model itself sees plain images

Every mixer that declares `Mixer.device_inputs` has a device feed (`feed`):
Mixup, pair sampling, CutMix, Mixup or CutMix, and no mixing; ResizeMix
(a resized partner) has none. Data that does not fit on the device should
use the `tf.data` stages.
"""

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from tfmixup.datasets import pipeline
from tfmixup.errors import DataError
from tfmixup.methods.cutmix import CutMix
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.mixup import Mixup
from tfmixup.methods.mixup_cutmix import MixupOrCutMix
from tfmixup.methods.pair_sampling import PairSampling

# Every input a device feed's batches may carry; each feed carries the indices and its mixer's `device_inputs`.
INPUT_NAMES = ("index_a", "index_b", *pipeline.DEVICE_INPUTS)


@keras.saving.register_keras_serializable(package="tfmixup")
class ResidentImages(keras.layers.Layer):
  """Holds a dataset's images on the device; maps a batch of indices, weights and boxes to mixed images.

  The images are a non-trainable variable of their stored dtype (uint8 is
  scaled by 1/255, as the stages scale it). They are left out of the
  layer's saved weights (`save_own_variables`), so checkpoints and saved
  models of a model built on it stay small, and out of its config
  (`get_config`: their shape and dtype only; `from_config` holds zeros).

  Args:
    images: `[N, H, W, C]` uint8 or float.
    mixes: False when no example is mixed: only the first examples are
      gathered.
    mixing_inputs: the inputs that mix, of `"weight_a"` (w `[B]`) and
      `"boxes"` (`[B, 4]`), as the mixer's `device_inputs()`; each image
      is x = box ? x_b : w·x_a + (1-w)·x_b, with w = 1 without weights and
      no box without boxes.
  """

  def __init__(
    self, images: np.ndarray, mixes: bool = True, mixing_inputs: tuple[str, ...] = ("weight_a",), **kwargs
  ) -> None:
    super().__init__(trainable=False, **kwargs)
    images = np.asarray(images)
    unknown = sorted(set(mixing_inputs) - set(pipeline.DEVICE_INPUTS))
    if mixes and (unknown or not mixing_inputs):
      raise ValueError(f"mixing_inputs are some of {', '.join(pipeline.DEVICE_INPUTS)}, got {list(mixing_inputs)}")
    self._uint8 = images.dtype == np.uint8
    self._scale = 1.0 / 255.0 if self._uint8 else 1.0
    self._mixes = mixes
    self._mixing_inputs = tuple(mixing_inputs)
    self.images = self.add_weight(
      shape=images.shape,
      dtype=images.dtype.name,
      initializer=lambda shape, dtype=None: images,
      trainable=False,
      name="images",
    )

  def call(self, inputs: dict) -> "keras.KerasTensor":
    """Mixed float32 images `[B, H, W, C]` from `inputs` (see `INPUT_NAMES`).

    The arithmetic is the stage's, in the same order, so the batches equal
    the stage's: weights alone as `mixing.mix_stored_batches` (x = (w·s)·x_a
    + ((1-w)·s)·x_b with s the scale); boxes alone as `mixing.cut_batches`
    (a selection, so exact); both as `mixing.mix_or_cut_batches`.
    """
    ops = keras.ops
    stored_a = ops.take(self.images, inputs["index_a"], axis=0)
    if not self._mixes:
      return self._to_float(stored_a)
    stored_b = ops.take(self.images, inputs["index_b"], axis=0)
    if "boxes" not in self._mixing_inputs:
      x_a, x_b = ops.cast(stored_a, "float32"), ops.cast(stored_b, "float32")
      weight = ops.cast(inputs["weight_a"], "float32")
      weight_a = ops.reshape(weight * self._scale, (-1, 1, 1, 1))
      weight_b = ops.reshape((1.0 - weight) * self._scale, (-1, 1, 1, 1))
      return x_a * weight_a + x_b * weight_b
    inside = self._box_masks(inputs["boxes"])
    if "weight_a" not in self._mixing_inputs:  # the partner's pixels inside the box, as stored, then scaled
      return self._to_float(ops.where(inside, stored_b, stored_a))
    x_a, x_b = self._to_float(stored_a), self._to_float(stored_b)
    lam = ops.reshape(ops.cast(inputs["weight_a"], "float32"), (-1, 1, 1, 1))
    return ops.where(inside, x_b, lam * x_a + (1.0 - lam) * x_b)

  def _to_float(self, stored) -> "keras.KerasTensor":
    """As `pipeline.to_float_images`: uint8 -> float32 / 255; float images only cast."""
    x = keras.ops.cast(stored, "float32")
    return x / 255.0 if self._uint8 else x

  def _box_masks(self, boxes) -> "keras.KerasTensor":
    """bool `[B, H, W, 1]`, True inside each box (top, left, bottom, right), half-open; as `mixing.box_masks`.

    Built on the device from the boxes `[B, 4]`: the row numbers `[1, H]`
    and column numbers `[1, W]` compared with each box's edges, then the two
    broadcast together.
    """
    ops = keras.ops
    height, width = self.images.shape[1], self.images.shape[2]
    boxes = ops.cast(boxes, "int32")
    rows = ops.expand_dims(ops.arange(height, dtype="int32"), 0)  # [1, H]
    cols = ops.expand_dims(ops.arange(width, dtype="int32"), 0)  # [1, W]
    in_rows = ops.logical_and(rows >= boxes[:, 0:1], rows < boxes[:, 2:3])  # [B, H]
    in_cols = ops.logical_and(cols >= boxes[:, 1:2], cols < boxes[:, 3:4])  # [B, W]
    inside = ops.logical_and(ops.expand_dims(in_rows, 2), ops.expand_dims(in_cols, 1))  # [B, H, W]
    return ops.expand_dims(inside, -1)

  def compute_output_shape(self, input_shape: dict) -> tuple:
    return (input_shape["index_a"][0], *self.images.shape[1:])

  def save_own_variables(self, store) -> None:
    del store  # The data is not part of the model.

  def load_own_variables(self, store) -> None:
    del store

  def get_config(self) -> dict:
    return {
      **super().get_config(),
      "images_shape": list(self.images.shape),
      "images_dtype": self.images.dtype,
      "mixes": self._mixes,
      "mixing_inputs": list(self._mixing_inputs),
    }

  @classmethod
  def from_config(cls, config: dict) -> "ResidentImages":
    config = dict(config)
    images = np.zeros(config.pop("images_shape"), dtype=config.pop("images_dtype"))
    config.pop("trainable", None)  # always False
    if "mixing_inputs" in config:
      config["mixing_inputs"] = tuple(config["mixing_inputs"])
    return super().from_config({**config, "images": images})


@dataclasses.dataclass(frozen=True)
class DeviceFeed:
  """A stage split between host and device (see the module docstring).

  Attributes:
    dataset: `({"index_a": int32 [B], "index_b": int32 [B], and the mixer's
      mixing inputs: "weight_a": float32 [B] and/or "boxes": int32 [B, 4]},
      labels float32 [B, K])`, one epoch per iteration.
    layer: the `ResidentImages` that turns a batch of `dataset` into the
      stage's images `[B, H, W, C]`.
    whole_epoch: `epoch -> (full_inputs {name: [S, B, ...]}, full_labels
      [S, B, K], rest_inputs {name: [R, ...]}, rest_labels [R, K])`, numpy:
      epoch `epoch` of `dataset` (the same batches) all at once, the S full
      batches stacked and a smaller last batch (R = 0 without one), made in
      one compiled call: what the epoch loop (`tfmixup.epoch_loop`) sends
      to the device. The epoch is given, not counted. None where the mixer
      draws per batch.
  """

  dataset: tf.data.Dataset
  layer: ResidentImages
  whole_epoch: Callable[[int], tuple] | None = None

  def model(self, model: keras.Model) -> keras.Model:
    """A model that trains `model` on this feed: `dataset`'s input dict in, `model`'s outputs out.

    It shares `model`'s layers and weights: train it, then evaluate or save
    `model` itself, which takes plain images.
    """
    inputs = {
      name: keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name, name=name)
      for name, spec in self.dataset.element_spec[0].items()
    }
    return keras.Model(inputs, model(self.layer(inputs)), name=f"{model.name}_on_device_feed")

  def batches(self, epochs: int = 1):
    """The stage's batches as numpy arrays, mixed by `layer` eagerly: for inspection and tests.

    Yields:
      `(images float32 [B, H, W, C], labels float32 [B, K])`, `epochs`
      iterations of `dataset` in a row.
    """
    for _ in range(epochs):
      for inputs, labels in self.dataset:
        # As tensors of their own dtypes (a layer may cast numpy inputs to float).
        images = self.layer({name: keras.ops.convert_to_tensor(value.numpy()) for name, value in inputs.items()})
        yield keras.ops.convert_to_numpy(images), labels.numpy()


def feed(data, mixer: Mixer | None, *, batch_size: int, seed: int | None, **options) -> DeviceFeed:
  """The device feed of any mixer that has one (`Mixer.device_inputs`: weighted sums, CutMix boxes, both).

  Args:
    data: `ImageArrays` or `(images [N, H, W, C], labels)` arrays (not a
      `tf.data.Dataset`: the images must fit on the device).
    mixer: a mixer whose `device_inputs()` is not empty, or None
      (shuffled, unmixed batches; a seed is then required).
    batch_size, seed, **options: as `tfmixup.datasets.paired`.

  Returns:
    A `DeviceFeed` of the batches the in-memory stage with this mixer gives.

  Raises:
    DataError, LabelError: as the stages; also a `tf.data.Dataset` or a
      mixer without a device feed.
  """
  if isinstance(data, tf.data.Dataset):
    raise DataError(
      "the device feed needs in-memory arrays (ImageArrays or (images, labels)); "
      "use the tf.data stages for a tf.data.Dataset"
    )
  if mixer is None:
    checked = pipeline.checked_options(batch_size, seed, options)
    if checked.seed is None:
      raise DataError("device_batches needs a seed: the device feed is for training")
  else:
    checked = pipeline.mixing_options(batch_size, seed, options)
  dataset, images, whole_epoch = pipeline.index_feed(data, mixer, checked)
  mixing_inputs = ("weight_a",) if mixer is None else mixer.device_inputs()
  layer = ResidentImages(images, mixes=mixer is not None, mixing_inputs=mixing_inputs)
  return DeviceFeed(dataset=dataset, layer=layer, whole_epoch=whole_epoch)


def device_mixup(data, *, batch_size: int, seed: int | None, alpha: float = 1.0, prob: float = 1.0, **options):
  """Mixup through the device feed: the batches of `tfmixup.datasets.mixup`, mixed on the device.

  Args:
    data: `ImageArrays` or `(images [N, H, W, C], labels)` arrays (not a
      `tf.data.Dataset`: the images must fit on the device).
    batch_size, seed, alpha, prob, **options: as `tfmixup.datasets.mixup`.

  Returns:
    A `DeviceFeed`.

  Raises:
    DataError, LabelError: as `tfmixup.datasets.mixup`; also for a `tf.data.Dataset`.
  """
  return feed(data, Mixup(alpha, prob), batch_size=batch_size, seed=seed, **options)


def device_cutmix(data, *, batch_size: int, seed: int | None, alpha: float = 1.0, prob: float = 1.0, **options):
  """CutMix through the device feed: the batches of `tfmixup.datasets.cutmix`, the boxes pasted on the device.

  The host sends each batch's boxes `int32 [B, 4]` (drawn as the stage
  draws them) and the labels mixed by the boxes' exact pixel fractions; the
  device builds the masks and takes the partners' pixels inside them.

  Args:
    data: `ImageArrays` or `(images [N, H, W, C], labels)` arrays (not a
      `tf.data.Dataset`: the images must fit on the device).
    batch_size, seed, alpha, prob, **options: as `tfmixup.datasets.cutmix`.

  Returns:
    A `DeviceFeed`.

  Raises:
    DataError, LabelError: as `tfmixup.datasets.cutmix`; also for a `tf.data.Dataset`.
  """
  return feed(data, CutMix(alpha, prob), batch_size=batch_size, seed=seed, **options)


def device_mixup_cutmix(  # noqa: PLR0913 - the data, the stage's arguments and the four knobs
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
  """Mixup or CutMix per sample through the device feed: the batches of `tfmixup.datasets.mixup_cutmix`.

  The host sends each batch's λ `float32 [B]` (1 for a CutMix sample) and
  boxes `int32 [B, 4]` (empty for a Mixup sample) and the mixed labels; the
  device mixes and pastes.

  Args:
    data: `ImageArrays` or `(images [N, H, W, C], labels)` arrays (not a
      `tf.data.Dataset`: the images must fit on the device).
    batch_size, seed, mixup_alpha, cutmix_alpha, switch_prob, prob, **options: as
      `tfmixup.datasets.mixup_cutmix`.

  Returns:
    A `DeviceFeed`.

  Raises:
    DataError, LabelError: as `tfmixup.datasets.mixup_cutmix`; also for a `tf.data.Dataset`.
  """
  mixer = MixupOrCutMix(mixup_alpha, cutmix_alpha, switch_prob, prob)
  return feed(data, mixer, batch_size=batch_size, seed=seed, **options)


def device_pair_sampling(data, *, batch_size: int, seed: int | None, prob: float = 1.0, **options):
  """Pair sampling through the device feed: the batches of `tfmixup.datasets.pair_sampling`.

  Args and Raises: as `device_mixup`, with `prob` as `tfmixup.datasets.pair_sampling`.
  """
  return feed(data, PairSampling(prob), batch_size=batch_size, seed=seed, **options)


def device_batches(data, *, batch_size: int, seed: int, **options):
  """Shuffled, unmixed batches through the device feed: the batches of `tfmixup.datasets.batches(seed=...)`.

  Args and Raises: as `device_mixup` (a seed is required).
  """
  return feed(data, None, batch_size=batch_size, seed=seed, **options)
