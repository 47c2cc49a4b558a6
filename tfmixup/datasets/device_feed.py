"""The device feed: the dataset resident on the accelerator, mixed inside the compiled training step.

On a GPU the `tf.data` stages are not what limits training: the per-batch
hand-off of float images from the host is (issue 9 of the project, measured
on an H200: Mixup-fed training reached 0.48-0.76x of `model.fit` on arrays
already in memory). The device feed splits a stage in two:

* host (`pipeline.index_feed`, tf.data): the stage's own epochs,
  permutations and draws, exactly as the in-memory stage makes them, but
  each batch carries only the indices of its examples and partners and the
  mixing weights, `int32 [B]` twice and `float32 [B]`, with the mixed
  labels `[B, K]`; a few KB per batch instead of the images;
* device (`ResidentImages`, a Keras layer): the stored images (uint8 for
  MNIST: 47 MB) as a non-trainable variable, and per batch, inside the
  compiled step, gather both sets of examples, scale and mix, in
  `keras.ops`, so under any Keras backend (JAX, TensorFlow, PyTorch).

The batches are the in-memory stage's batches: same pairs, same λ, same
labels (tested against the stage, to float rounding), so the device feed
has the stage's guarantees: partners from the whole dataset, new and
independent every epoch, per-sample λ ~ Beta(α, α), seeded, resumable with
`initial_epoch`. λ is drawn on the host once per epoch, as the stages draw
it: drawing it inside each step cost 35-60% on a GPU (`ANCHORS.md`).

  feed = tfmixup.datasets.device_mixup(train, batch_size=128, seed=0, alpha=1.0)
  trainer = feed.model(model)          # indices in, the model's outputs out
  trainer.compile(...)                 # shares the model's weights
  trainer.fit(feed.dataset, epochs=10)
  model.evaluate(...)                  # the model itself sees plain images

Mixers whose images are a per-sample weighted sum have a device feed (Mixup,
pair sampling, and no mixing); CutMix does not yet. Data that does not fit
on the device should use the `tf.data` stages.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfmixup.datasets import pipeline
from tfmixup.errors import DataError
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.mixup import Mixup
from tfmixup.methods.pair_sampling import PairSampling

INPUT_NAMES = ("index_a", "index_b", "weight_a")


@keras.saving.register_keras_serializable(package="tfmixup")
class ResidentImages(keras.layers.Layer):
  """Holds a dataset's images on the device; maps a batch of indices and weights to mixed images.

  The images are a non-trainable variable of their stored dtype (uint8 is
  scaled by 1/255, as the stages scale it). They are left out of the
  layer's saved weights (`save_own_variables`), so checkpoints and saved
  models of a model built on it stay small, and out of its config
  (`get_config`: their shape and dtype only; `from_config` holds zeros).

  Args:
    images: `[N, H, W, C]` uint8 or float.
    mixes: False when every weight is 1 (no mixing): only the first
      examples are gathered.
  """

  def __init__(self, images: np.ndarray, mixes: bool = True, **kwargs) -> None:
    super().__init__(trainable=False, **kwargs)
    images = np.asarray(images)
    self._uint8 = images.dtype == np.uint8
    self._scale = 1.0 / 255.0 if self._uint8 else 1.0
    self._mixes = mixes
    self.images = self.add_weight(
      shape=images.shape,
      dtype=images.dtype.name,
      initializer=lambda shape, dtype=None: images,
      trainable=False,
      name="images",
    )

  def call(self, inputs: dict) -> "keras.KerasTensor":
    """Mixed float32 images `[B, H, W, C]` from `inputs` (see `INPUT_NAMES`).

    The arithmetic is `mixing.mix_stored_batches`' (x = (w·s)·x_a + ((1-w)·s)·x_b
    with s the scale), in the same order, so the batches equal the stage's.
    """
    ops = keras.ops
    x_a = ops.cast(ops.take(self.images, inputs["index_a"], axis=0), "float32")
    if not self._mixes:
      return x_a / 255.0 if self._uint8 else x_a
    x_b = ops.cast(ops.take(self.images, inputs["index_b"], axis=0), "float32")
    weight = ops.cast(inputs["weight_a"], "float32")
    weight_a = ops.reshape(weight * self._scale, (-1, 1, 1, 1))
    weight_b = ops.reshape((1.0 - weight) * self._scale, (-1, 1, 1, 1))
    return x_a * weight_a + x_b * weight_b

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
    }

  @classmethod
  def from_config(cls, config: dict) -> "ResidentImages":
    config = dict(config)
    images = np.zeros(config.pop("images_shape"), dtype=config.pop("images_dtype"))
    config.pop("trainable", None)  # always False
    return super().from_config({**config, "images": images})


@dataclasses.dataclass(frozen=True)
class DeviceFeed:
  """A stage split between host and device (see the module docstring).

  Attributes:
    dataset: `({"index_a": int32 [B], "index_b": int32 [B], "weight_a":
      float32 [B]}, labels float32 [B, K])`, one epoch per iteration.
    layer: the `ResidentImages` that turns a batch of `dataset` into the
      stage's images `[B, H, W, C]`.
  """

  dataset: tf.data.Dataset
  layer: ResidentImages

  def model(self, model: keras.Model) -> keras.Model:
    """A model that trains `model` on this feed: indices in, `model`'s outputs out.

    It shares `model`'s layers and weights: train it, then evaluate or save
    `model` itself, which takes plain images.
    """
    inputs = {
      "index_a": keras.Input(shape=(), dtype="int32", name="index_a"),
      "index_b": keras.Input(shape=(), dtype="int32", name="index_b"),
      "weight_a": keras.Input(shape=(), dtype="float32", name="weight_a"),
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
        images = self.layer({name: keras.ops.convert_to_tensor(inputs[name].numpy()) for name in INPUT_NAMES})
        yield keras.ops.convert_to_numpy(images), labels.numpy()


def feed(data, mixer: Mixer | None, *, batch_size: int, seed: int | None, **options) -> DeviceFeed:
  """The device feed of any mixer whose images are a per-sample weighted sum (`Mixer.weighted_sum`).

  Args:
    data: `ImageArrays` or `(images [N, H, W, C], labels)` arrays (not a
      `tf.data.Dataset`: the images must fit on the device).
    mixer: a `weighted_sum` mixer, or None (shuffled, unmixed batches; a
      seed is then required).
    batch_size, seed, **options: as `tfmixup.datasets.paired`.

  Returns:
    A `DeviceFeed` of the batches the in-memory stage with this mixer gives.

  Raises:
    DataError, LabelError: as the stages; also a `tf.data.Dataset` or a
      mixer that is not a weighted sum.
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
  dataset, images = pipeline.index_feed(data, mixer, checked)
  return DeviceFeed(dataset=dataset, layer=ResidentImages(images, mixes=mixer is not None))


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
