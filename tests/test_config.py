"""The typed training config and the --subset syntax."""

import tensorflow as tf
from absl.testing import parameterized

from tfmixup.config import ConfigError, TrainConfig, parse_subset


class ConfigTest(tf.test.TestCase, parameterized.TestCase):
  def test_parse_subset(self):
    self.assertIsNone(parse_subset("all"))
    self.assertEqual(parse_subset("689"), (6, 8, 9))
    self.assertEqual(parse_subset("38"), (3, 8))

  @parameterized.named_parameters(
    ("letter", "6a9", "must be 'all' or digits"),
    ("empty", "", "must be 'all' or digits"),
    ("negative", "-69", "must be 'all' or digits"),
    ("repeated", "668", r"repeats digit\(s\) \[6\]"),
    ("one_class", "6", "has one class"),
  )
  def test_bad_subset(self, text, message):
    with self.assertRaisesRegex(ConfigError, message):
      parse_subset(text)

  @parameterized.named_parameters(
    ("method", dict(method="cutmix"), "method must be one of"),
    ("alpha", dict(alpha=0.0), "alpha must be finite and > 0"),
    ("alpha_nan", dict(alpha=float("nan")), "alpha must be finite and > 0"),
    ("epochs", dict(epochs=0), "epochs must be a positive integer"),
    ("batch", dict(batch_size=-1), "batch_size must be a positive integer"),
    ("lr", dict(learning_rate=0.0), "learning_rate must be finite"),
    ("jit", dict(jit_compile="maybe"), "jit_compile must be one of"),
    ("classes", dict(classes=(6, 6)), "two or more distinct"),
    ("train_size", dict(train_size=0), "train_size must be a positive integer"),
  )
  def test_bad_config(self, kwargs, message):
    with self.assertRaisesRegex(ConfigError, message):
      TrainConfig(**kwargs)

  def test_round_trip_and_names(self):
    config = TrainConfig(classes=(6, 8, 9), method="mixup", alpha=0.4, seed=3)
    self.assertEqual(TrainConfig.from_dict(config.to_dict()), config)
    self.assertEqual(config.run_name, "mnist-689-mixup-a0.4-seed3")
    self.assertEqual(TrainConfig().run_name, "mnist-all-erm-seed0")
