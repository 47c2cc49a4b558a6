"""The method registry: names, errors, and a user's own method with a data stage and a model wrapper."""

import keras
import numpy as np
import tensorflow as tf
from helpers import coded_arrays

from tfmixup import datasets, distributed, methods, training
from tfmixup.config import ConfigError, TrainConfig


class RegistryTest(tf.test.TestCase):
  def test_built_in_methods(self):
    self.assertContainsSubset(["erm", "mixup", "cutmix", "mixup_cutmix", "pair_sampling"], methods.names())
    self.assertEqual(methods.get("erm").label, "without")  # the study's name for ERM
    self.assertFalse(methods.get("erm").mixes)

  def test_unknown_name_lists_the_names(self):
    names = "adamixup, cutmix, erm, manifold_mixup, mixup"
    with self.assertRaisesRegex(ConfigError, rf"^unknown method 'mixupp'; choose one of: {names}"):
      methods.get("mixupp")

  def test_bad_registrations(self):
    with self.assertRaisesRegex(ValueError, "lower-case identifiers"):
      methods.register(methods.Method(name="My Mix", label="x"))
    with self.assertRaisesRegex(TypeError, "takes a tfmixup.methods.Method"):
      methods.register("mixup")

  def test_each_method_feeds_its_stage(self):
    data = coded_arrays(64, num_classes=4, shape=(8, 8, 1))
    config = TrainConfig(method="cutmix", batch_size=16, seed=3, label_smoothing=0.1)
    got = next(iter(methods.get("cutmix").training_data(data, config)))
    want = next(iter(datasets.cutmix(data, batch_size=16, seed=3, label_smoothing=0.1)))
    self.assertAllEqual(got[0], want[0])
    self.assertAllEqual(got[1], want[1])

  def test_which_methods_have_a_device_feed(self):
    # Declared by the mixer (`Mixer.device_inputs`), read without TensorFlow.
    with_feed = {name for name in methods.names() if methods.get(name).has_device_feed}
    self.assertContainsSubset(["erm", "mixup", "pair_sampling", "cutmix", "mixup_cutmix"], with_feed)
    self.assertNoCommonElements(["resizemix", "manifold_mixup", "adamixup"], with_feed)
    self.assertEqual(methods.get("cutmix").mixer.device_inputs(), ("boxes",))
    self.assertEqual(methods.get("mixup_cutmix").mixer.device_inputs(), ("weight_a", "boxes"))
    self.assertEqual(TrainConfig(method="cutmix", feed="device").feed, "device")

  def test_the_remedies_for_intrusion(self):
    self.assertContainsSubset(["manifold_mixup", "adamixup", "mixup_clean_half"], methods.names())
    for name in ("manifold_mixup", "adamixup"):
      self.assertIsNotNone(methods.get(name).trainer)
      with self.assertRaisesRegex(ConfigError, f"^method '{name}' has no device feed; use feed 'host' or 'auto'$"):
        TrainConfig(method=name, feed="device")
    self.assertIsNone(methods.get("mixup_clean_half").trainer)
    for name in ("adamixup", "mixup_clean_half"):
      with self.assertRaisesRegex(ConfigError, rf"^method '{name}' needs an even batch_size \(.*\), got 9$"):
        TrainConfig(method=name, batch_size=9)
    with self.assertRaisesRegex(ConfigError, "need a mixing method, not 'adamixup'"):
      TrainConfig(method="adamixup", mix_start=1)  # the policy mixes every batch
    self.assertEqual(TrainConfig(method="manifold_mixup", alpha=2.0).run_name, "mnist-all-manifold_mixup-a2-seed0")
    self.assertEqual(
      TrainConfig(method="mixup_clean_half", alpha=0.4).run_name, "mnist-all-mixup_clean_half-a0.4-seed0"
    )
    self.assertEqual(TrainConfig(method="adamixup").run_name, "mnist-all-adamixup-seed0")

  def test_a_trainer_shares_the_model_and_is_what_is_compiled(self):
    for name in ("manifold_mixup", "adamixup"):
      model, trainer = training.build_trainer(TrainConfig(method=name), (28, 28, 1), 3)
      self.assertIsInstance(model, keras.Sequential)
      self.assertIsNot(trainer, model)
      self.assertIs(trainer.classifier, model)
      self.assertIsNotNone(trainer.optimizer)
      self.assertIsNone(getattr(model, "optimizer", None))
    data = coded_arrays(64, num_classes=4, shape=(28, 28, 1))
    with self.assertRaisesRegex(distributed.ClusterError, "own trainer on one worker"):
      training._models(TrainConfig(method="manifold_mixup"), data, "host", distributed.Workers(num_workers=2))

  def test_mixup_clean_half_feeds_its_stage(self):
    data = coded_arrays(64, num_classes=4, shape=(8, 8, 1))
    config = TrainConfig(method="mixup_clean_half", batch_size=16, seed=3, alpha=0.3)
    got = next(iter(methods.get("mixup_clean_half").training_data(data, config)))
    want = next(iter(datasets.mixup_clean_half(data, batch_size=16, seed=3, alpha=0.3)))
    self.assertAllEqual(got[0], want[0])
    self.assertAllEqual(got[1], want[1])


class UserMethodTest(tf.test.TestCase):
  def test_a_registered_method_trains(self):
    calls = {"stage": 0, "wrap": 0}

    def stage(data, config, **options):
      calls["stage"] += 1

      def swap(x_a, y_a, x_b, y_b, seed):  # the partner's image and label: plain ERM, shuffled twice
        del x_a, y_a, seed
        return x_b, y_b

      return datasets.paired(data, swap, **options)

    def wrap(model, config):
      calls["wrap"] += 1
      return keras.Sequential([keras.layers.GaussianNoise(0.01, seed=config.seed), model], name="noisy")

    methods.register(methods.Method(name="test_swap", label="swap", stage=stage, wrap_model=wrap))
    try:
      config = TrainConfig(method="test_swap", epochs=1, batch_size=32, seed=1)
      self.assertEqual(config.run_name, "mnist-all-test_swap-seed1")
      data = coded_arrays(128, num_classes=4, shape=(28, 28, 1))
      data = data.__class__(
        images=(data.images % 255).astype(np.uint8),
        labels=data.labels,
        class_names=data.class_names,
        source_classes=data.source_classes,
      )
      model = training.compile_model(config, (28, 28, 1), 4)
      self.assertEqual(model.name, "noisy")
      result = training.train(config, data=training.SplitData(train=data, test=data), verbose=0)
      self.assertLen(result["history"]["loss"], 1)
      self.assertEqual(calls, {"stage": 1, "wrap": 2})
    finally:
      methods.registry._REGISTRY.pop("test_swap", None)
    with self.assertRaisesRegex(ConfigError, "unknown method 'test_swap'"):
      TrainConfig(method="test_swap")


if __name__ == "__main__":
  tf.test.main()
