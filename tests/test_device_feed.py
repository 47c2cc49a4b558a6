"""The device feed: the in-memory stages' batches, with the images resident on the device.

Runs under any Keras backend (CI runs it under TensorFlow and JAX). Its
statistical tests are the stages' own, in `test_pairing.py` (path "device").
"""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from tfmixup import datasets
from tfmixup.datasets import mixing, pipeline
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.resizemix import ResizeMix

# The device computes x/255 and w·x_a + (1-w)·x_b in the stage's order; XLA
# (and TensorFlow's graph optimizer) may turn a division by a constant into a
# product (1 ulp of 1.0); Mixup-or-CutMix's mix of two divided images: up to
# 2 ulps below 1 (1.8e-7 measured). CutMix's pixels are a selection: exactly
# the stage's where the scale is exact (CutMixExactlyTest).
ATOL = 2e-7
CUTMIX, MIXUP_CUTMIX = (datasets.cutmix, datasets.device_cutmix), (datasets.mixup_cutmix, datasets.device_mixup_cutmix)


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
    ("pair_sampling", datasets.pair_sampling, datasets.device_pair_sampling, dict(prob=0.7)),
    ("no_mixing", datasets.batches, datasets.device_batches, dict(label_smoothing=0.2)),
    ("cutmix_resumed_drop_remainder", *CUTMIX, dict(alpha=2.0, initial_epoch=3, drop_remainder=True)),
    (
      "mixup_cutmix_prob_smoothing",
      *MIXUP_CUTMIX,
      dict(mixup_alpha=0.4, cutmix_alpha=2.0, switch_prob=0.5, prob=0.7, label_smoothing=0.1),
    ),
  )
  def test_equals_the_stage(self, stage, device, options):
    self.check_equals_the_stage(stage, device, options)

  @pytest.mark.slow
  def test_equals_the_stage_more(self):
    # (CutMix's resumed, drop_remainder case covers both options in the fast tier.)
    for stage, device, options in (
      (datasets.mixup, datasets.device_mixup, dict(initial_epoch=7)),
      (datasets.mixup, datasets.device_mixup, dict(drop_remainder=True)),
      (*CUTMIX, dict(alpha=1.0)),
      (*CUTMIX, dict(alpha=0.5, prob=0.5, label_smoothing=0.1)),
      (*CUTMIX, dict(schedule=datasets.Schedule(start=1, on=1, off=1))),
      (*MIXUP_CUTMIX, dict(switch_prob=0.5)),
      (*MIXUP_CUTMIX, dict(schedule=datasets.Schedule(start=1, on=1, off=1))),
    ):
      with self.subTest(device=device.__name__, options=options):
        self.check_equals_the_stage(stage, device, options)

  def check_equals_the_stage(self, stage, device, options):
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

  def test_only_indices_boxes_and_weights_are_fed(self):
    for device, names in ((datasets.device_cutmix, []), (datasets.device_mixup_cutmix, ["weight_a"])):
      inputs, labels = next(iter(device(uint8_data(), batch_size=128, seed=0, num_classes=10).dataset))
      self.assertEqual(sorted(inputs), ["boxes", "index_a", "index_b", *names])
      self.assertEqual((inputs["boxes"].dtype, inputs["boxes"].shape), (tf.int32, (128, 4)))
      self.assertEqual(labels.shape, (128, 10))


class CutMixExactlyTest(tf.test.TestCase, parameterized.TestCase):
  """CutMix on the device is a selection of pixels: the stage's images exactly, where the scale is exact.

  Float images have no scale: exact under every backend. uint8 images are
  divided by 255 as the stage divides them: exact under TensorFlow run
  eagerly (`batches`); XLA (JAX) multiplies by 1/255 instead (1 ulp: the
  ATOL of SameBatchesTest), as does TensorFlow's graph optimizer in a
  compiled step.
  """

  @parameterized.named_parameters(("float32", np.float32), ("uint8", np.uint8))
  def test_equals_the_stage_exactly(self, dtype):
    if dtype == np.uint8 and keras.backend.backend() != "tensorflow":
      self.skipTest("XLA divides by 255 as a product by 1/255: 1 ulp, SameBatchesTest's tolerance")
    images, labels = uint8_data(500, seed=2, shape=(12, 10, 2))
    data = (images.astype(dtype), labels)
    stage = datasets.cutmix(data, batch_size=64, seed=9, num_classes=10, alpha=0.7, prob=0.8)
    host = host_batches(stage, epochs=2)
    fed = list(datasets.device_cutmix(data, batch_size=64, seed=9, num_classes=10, alpha=0.7, prob=0.8).batches(2))
    self.assertLen(fed, len(host))
    for (x_host, y_host), (x_dev, y_dev) in zip(host, fed, strict=True):
      self.assertAllEqual(x_dev, x_host)
      self.assertAllEqual(y_dev, y_host)


class BoxMaskTest(tf.test.TestCase):
  """The device builds each mask from its box: the partner's pixels exactly on the box's rows and columns."""

  # An all-0 image and an all-255 one: the device's image of (0, 1, box) is 1 exactly inside the box.
  IMAGES = np.stack([np.zeros((7, 5, 2), np.uint8), np.full((7, 5, 2), 255, np.uint8)])

  def boxes(self):
    edge_cases = [[0, 0, 0, 0], [0, 0, 7, 5], [2, 1, 5, 4], [6, 4, 7, 5], [3, 0, 4, 5], [0, 2, 7, 3], [5, 3, 5, 4]]
    lam = tf.random.stateless_uniform([64], [1, 2])
    drawn = datasets.sample_boxes(lam, 7, 5, tf.constant([3, 4], tf.int64)).numpy()
    return np.concatenate([np.array(edge_cases, np.int32), drawn])

  def box_pictures(self, boxes, outside=0.0):
    want = np.full((len(boxes), 7, 5, 2), outside, np.float32)
    for i, (top, left, bottom, right) in enumerate(boxes):
      want[i, top:bottom, left:right] = 1.0
    return want

  def device_images(self, mixing_inputs, boxes, **inputs):
    layer = datasets.ResidentImages(self.IMAGES, mixing_inputs=mixing_inputs)
    size = len(boxes)
    inputs.update(index_a=np.zeros(size, np.int32), index_b=np.ones(size, np.int32), boxes=boxes)
    return keras.ops.convert_to_numpy(layer({k: keras.ops.convert_to_tensor(v) for k, v in inputs.items()}))

  def test_cutmix_takes_the_partner_exactly_inside_the_box(self):
    boxes = self.boxes()
    self.assertAllEqual(self.device_images(("boxes",), boxes), self.box_pictures(boxes))
    self.assertAllEqual(mixing.box_masks(boxes, 7, 5)[..., 0], self.box_pictures(boxes)[..., 0] == 1.0)

  def test_mixup_cutmix_mixes_outside_the_box(self):
    boxes = self.boxes()
    weights = np.full(len(boxes), 0.25, np.float32)  # outside: 0.25·0 + 0.75·1
    got = self.device_images(("weight_a", "boxes"), boxes, weight_a=weights)
    self.assertAllEqual(got, self.box_pictures(boxes, outside=0.75))


class TrainingTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("mixup", datasets.mixup, datasets.device_mixup, 0),
    ("mixup_cutmix", *MIXUP_CUTMIX, 1e-6),
  )
  def test_fit_trains_the_model_on_the_stage_batches(self, stage, device, tensorflow_tolerance):
    self.check_fit_trains_the_model_on_the_stage_batches(stage, device, tensorflow_tolerance)

  @pytest.mark.slow
  def test_fit_trains_the_model_on_the_stage_batches_cutmix(self):
    self.check_fit_trains_the_model_on_the_stage_batches(*CUTMIX, 1e-6)

  def check_fit_trains_the_model_on_the_stage_batches(self, stage, device, tensorflow_tolerance):
    # Two models from the same initial weights, one fitted on the stage and
    # one on the device feed: same losses (Mixup's exactly on the TensorFlow
    # backend on a CPU, where both compute the same float ops; the box
    # stages divide by 255, which the compiled step computes as a product by
    # 1/255, 1 ulp: to 1e-6; to 1e-4 elsewhere).
    data = uint8_data(512, shape=(8, 8, 1))

    def model():
      keras.utils.set_random_seed(3)
      return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

    def compile_(m):
      m.compile(keras.optimizers.SGD(0.5), keras.losses.CategoricalCrossentropy(from_logits=True))

    host_model = model()
    compile_(host_model)
    host = host_model.fit(stage(data, batch_size=64, seed=2, num_classes=10), epochs=3, verbose=0)
    device_model = model()
    feed = device(data, batch_size=64, seed=2, num_classes=10)
    trainer = feed.model(device_model)
    compile_(trainer)
    fed = trainer.fit(feed.dataset, epochs=3, verbose=0)
    tolerance = tensorflow_tolerance if keras.backend.backend() == "tensorflow" else 1e-4
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

  @parameterized.named_parameters(("mixup", datasets.device_mixup), ("mixup_cutmix", datasets.device_mixup_cutmix))
  def test_config_leaves_the_data_out(self, device):
    # Keras's TensorBoard callback writes the trainer's JSON (it warned, and wrote none, before).
    images, labels = uint8_data(4000, shape=(32, 32, 3))
    feed = device((images, labels), batch_size=64, seed=0, num_classes=10)
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

  def test_resizemix_has_no_device_feed(self):
    options = pipeline.checked_options(2, 0, {})
    with self.assertRaisesRegex(datasets.DataError, "^ResizeMix has no device feed: its images are neither"):
      pipeline.index_feed(uint8_data(10), ResizeMix(), options)

  def test_an_unknown_device_input_is_refused(self):
    class Masked(Mixer):
      @classmethod
      def device_inputs(cls):
        return ("mask",)

    options = pipeline.checked_options(2, 0, {})
    with self.assertRaisesRegex(datasets.DataError, r"^Masked.device_inputs\(\) names mask; a device feed takes"):
      pipeline.index_feed(uint8_data(10), Masked(), options)
    with self.assertRaisesRegex(ValueError, "mixing_inputs are some of weight_a, boxes"):
      datasets.ResidentImages(uint8_data(2)[0], mixing_inputs=("mask",))

  def test_plain_batches_need_a_seed(self):
    with self.assertRaisesRegex(datasets.DataError, "device_batches needs a seed"):
      datasets.device_batches(uint8_data(10), batch_size=2, seed=None, num_classes=10)

  def test_bad_options_as_the_stages(self):
    with self.assertRaisesRegex(datasets.DataError, "alpha must be finite and > 0"):
      datasets.device_mixup(uint8_data(10), batch_size=2, seed=0, alpha=0.0, num_classes=10)
    with self.assertRaisesRegex(datasets.DataError, "switch_prob must be a probability"):
      datasets.device_mixup_cutmix(uint8_data(10), batch_size=2, seed=0, switch_prob=2.0, num_classes=10)
    with self.assertRaisesRegex(TypeError, "unknown stage option"):
      datasets.device_mixup(uint8_data(10), batch_size=2, seed=0, shuffle=True)
