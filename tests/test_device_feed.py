"""The device feed: the in-memory stages' batches, with the images resident on the device.

Runs under any Keras backend (CI runs it under TensorFlow and JAX). Its
statistical tests are the stages' own, in `test_pairing.py` (path "device").
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfmixup import datasets
from tfmixup.datasets import mixers, pipeline

# The device computes x/255 and w·x_a + (1-w)·x_b in the stage's order; XLA
# may turn a division by a constant into a product (1 ulp of 1.0).
ATOL = 2e-7


def uint8_data(size=1000, seed=0, shape=(28, 28, 1)):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (size, *shape), dtype=np.uint8), rng.integers(0, 10, size)


def host_batches(stage, epochs):
  return [(x.numpy(), y.numpy()) for _ in range(epochs) for x, y in stage]


class SameBatchesTest(tf.test.TestCase, parameterized.TestCase):
  """Every device feed yields its stage's batches: same pairs, weights and labels, epoch after epoch."""

  @parameterized.named_parameters(
    ("mixup", datasets.mixup, datasets.device_mixup, dict(alpha=0.4)),
    ("mixup_prob_smoothing", datasets.mixup, datasets.device_mixup, dict(alpha=2.0, prob=0.5, label_smoothing=0.1)),
    ("mixup_schedule", datasets.mixup, datasets.device_mixup, dict(schedule=datasets.Schedule(start=1, on=1, off=1))),
    ("mixup_resumed", datasets.mixup, datasets.device_mixup, dict(initial_epoch=7)),
    ("mixup_drop_remainder", datasets.mixup, datasets.device_mixup, dict(drop_remainder=True)),
    ("pair_sampling", datasets.pair_sampling, datasets.device_pair_sampling, dict(prob=0.7)),
    ("no_mixing", datasets.batches, datasets.device_batches, dict(label_smoothing=0.2)),
  )
  def test_equals_the_stage(self, stage, device, options):
    data = uint8_data()
    host = host_batches(stage(data, batch_size=96, seed=5, num_classes=10, **options), epochs=4)
    fed = list(device(data, batch_size=96, seed=5, num_classes=10, **options).batches(epochs=4))
    self.assertLen(fed, len(host))
    for (x_host, y_host), (x_dev, y_dev) in zip(host, fed, strict=True):
      self.assertEqual(x_dev.shape, x_host.shape)
      self.assertAllClose(x_dev, x_host, atol=ATOL, rtol=0)
      self.assertAllEqual(y_dev, y_host)  # the labels are mixed on the host, as the stage mixes them

  def test_float_images_and_one_hot_labels(self):
    images, labels = uint8_data(300, shape=(8, 8, 3))
    data = (images.astype(np.float32) / 7.0, np.eye(10, dtype=np.float32)[labels])
    host = host_batches(datasets.mixup(data, batch_size=64, seed=1), epochs=2)
    fed = list(datasets.device_mixup(data, batch_size=64, seed=1).batches(epochs=2))
    for (x_host, y_host), (x_dev, y_dev) in zip(host, fed, strict=True):
      self.assertAllClose(x_dev, x_host, atol=1e-5, rtol=1e-6)
      self.assertAllEqual(y_dev, y_host)

  def test_only_indices_and_weights_are_fed(self):
    feed = datasets.device_mixup(uint8_data(), batch_size=128, seed=0, num_classes=10)
    inputs, labels = next(iter(feed.dataset))
    self.assertEqual(sorted(inputs), ["index_a", "index_b", "weight_a"])
    self.assertEqual(inputs["index_a"].dtype, tf.int32)
    self.assertEqual(inputs["weight_a"].shape, (128,))
    self.assertEqual(labels.shape, (128, 10))


class TrainingTest(tf.test.TestCase):
  def test_fit_trains_the_model_on_the_stage_batches(self):
    # Two models from the same initial weights, one fitted on the stage and
    # one on the device feed: same losses (exactly on the TensorFlow backend
    # on a CPU, where both compute the same float ops; to 1e-4 elsewhere).
    data = uint8_data(512, shape=(8, 8, 1))

    def model():
      keras.utils.set_random_seed(3)
      return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

    def compile_(m):
      m.compile(keras.optimizers.SGD(0.5), keras.losses.CategoricalCrossentropy(from_logits=True))

    host_model = model()
    compile_(host_model)
    host = host_model.fit(datasets.mixup(data, batch_size=64, seed=2, num_classes=10), epochs=3, verbose=0)
    device_model = model()
    feed = datasets.device_mixup(data, batch_size=64, seed=2, num_classes=10)
    trainer = feed.model(device_model)
    compile_(trainer)
    fed = trainer.fit(feed.dataset, epochs=3, verbose=0)
    tolerance = 0 if keras.backend.backend() == "tensorflow" else 1e-4
    self.assertAllClose(fed.history["loss"], host.history["loss"], atol=tolerance, rtol=tolerance)
    self.assertAllClose(device_model.get_weights()[0], host_model.get_weights()[0], atol=max(tolerance, 1e-6))
    self.assertNotAllClose(host.history["loss"][0], host.history["loss"][-1])  # it did train

  def test_saved_weights_leave_the_data_out(self):
    images, labels = uint8_data(4000, shape=(32, 32, 3))  # 12 MB of images
    feed = datasets.device_mixup((images, labels), batch_size=64, seed=0, num_classes=10)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    trainer = feed.model(model)
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "t.weights.h5")
      trainer.save_weights(path)
      self.assertLess(os.path.getsize(path), 1_000_000)  # the Dense layer: 123 KB
      trainer.load_weights(path)
    self.assertAllEqual(keras.ops.convert_to_numpy(feed.layer.images), images)

  def test_config_leaves_the_data_out(self):
    # Keras's TensorBoard callback writes the trainer's JSON (it warned, and wrote none, before).
    images, labels = uint8_data(4000, shape=(32, 32, 3))
    feed = datasets.device_mixup((images, labels), batch_size=64, seed=0, num_classes=10)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    text = feed.model(model).to_json()
    self.assertLess(len(text), 20_000)
    again = keras.models.model_from_json(text)
    (layer,) = [layer for layer in again.layers if isinstance(layer, datasets.ResidentImages)]
    self.assertEqual(layer.get_config(), feed.layer.get_config())
    self.assertEqual((layer.images.shape, layer.images.dtype), ((4000, 32, 32, 3), "uint8"))


class ErrorsTest(tf.test.TestCase):
  def test_a_dataset_input_is_refused(self):
    ds = tf.data.Dataset.from_tensor_slices(uint8_data(10))
    with self.assertRaisesRegex(datasets.DataError, "the device feed needs in-memory arrays"):
      datasets.device_mixup(ds, batch_size=2, seed=0, num_classes=10)

  def test_cutmix_has_no_device_feed(self):
    options = pipeline.checked_options(2, 0, {})
    with self.assertRaisesRegex(datasets.DataError, "CutMix has no device feed"):
      pipeline.index_feed(uint8_data(10), mixers.CutMix(), options)

  def test_plain_batches_need_a_seed(self):
    with self.assertRaisesRegex(datasets.DataError, "device_batches needs a seed"):
      datasets.device_batches(uint8_data(10), batch_size=2, seed=None, num_classes=10)

  def test_bad_options_as_the_stages(self):
    with self.assertRaisesRegex(datasets.DataError, "alpha must be finite and > 0"):
      datasets.device_mixup(uint8_data(10), batch_size=2, seed=0, alpha=0.0, num_classes=10)
    with self.assertRaisesRegex(TypeError, "unknown stage option"):
      datasets.device_mixup(uint8_data(10), batch_size=2, seed=0, shuffle=True)
