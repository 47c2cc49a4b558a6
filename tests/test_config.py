"""The typed training config and the --subset syntax."""

import json
import subprocess
import sys

import numpy as np
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
    ("method", dict(method="no_such_method"), r"unknown method 'no_such_method'; choose one of: adamixup, cutmix, erm"),
    ("cutmix_alpha", dict(cutmix_alpha=-1.0), "cutmix_alpha must be finite and > 0"),
    ("prob", dict(prob=1.01), r"prob must be a probability in \[0, 1\]"),
    ("switch_prob", dict(switch_prob=float("nan")), r"switch_prob must be a probability"),
    ("label_smoothing", dict(label_smoothing=1.0), r"label_smoothing must be a number in \[0, 1\)"),
    ("mix_start", dict(method="mixup", mix_start=-2), "mix_start must be an integer >= 0"),
    ("mix_off", dict(method="mixup", mix_off=1), "mix_off=1 needs mix_on"),
    ("off_last", dict(method="mixup", epochs=2, off_last=3), "off_last=3 is more than the 2 epochs"),
    ("schedule_erm", dict(method="erm", off_last=1), "need a mixing method"),
    ("start_past_end", dict(method="mixup", epochs=2, mix_start=2), r"^the schedule never mixes: mix_start=2 and"),
    ("off_all", dict(method="mixup", epochs=2, off_last=2), "the schedule never mixes: mix_start=0 and off_last=2"),
    ("start_in_off", dict(method="cutmix", epochs=3, mix_start=1, off_last=2), "the schedule never mixes"),
    ("alpha", dict(alpha=0.0), "alpha must be finite and > 0"),
    ("alpha_nan", dict(alpha=float("nan")), "alpha must be finite and > 0"),
    ("epochs", dict(epochs=0), "epochs must be a positive integer"),
    ("batch", dict(batch_size=-1), "batch_size must be a positive integer"),
    ("lr", dict(learning_rate=0.0), "learning_rate must be finite"),
    ("jit", dict(jit_compile="maybe"), "jit_compile must be one of"),
    ("feed", dict(feed="gpu"), r"feed must be one of \('auto', 'host', 'device'\)"),
    ("feed_resizemix", dict(method="resizemix", feed="device"), "method 'resizemix' has no device feed; use feed"),
    ("steps", dict(steps_per_execution=0), "steps_per_execution must be a positive integer"),
    ("steps_float", dict(steps_per_execution=2.0), "steps_per_execution must be a positive integer"),
    ("classes", dict(classes=(6, 6)), "two or more distinct"),
    ("train_size", dict(train_size=0), "train_size must be a positive integer"),
    ("negative_seed", dict(seed=-1), r"^seed must be an integer in \[0, 2\*\*32 - 1\] \(numpy's seeds\), got -1$"),
    ("huge_seed", dict(seed=2**32), r"seed must be an integer in \[0, 2\*\*32 - 1\]"),
    ("float_seed", dict(seed=1.5), r"seed must be an integer"),
  )
  def test_bad_config(self, kwargs, message):
    with self.assertRaisesRegex(ConfigError, message):
      TrainConfig(**kwargs)

  def test_a_schedule_with_one_mixing_epoch_is_fine(self):
    config = TrainConfig(method="mixup", epochs=3, mix_start=1, off_last=1, mix_on=1, mix_off=5)
    self.assertEqual(config.schedule().epochs_on(3), [1])

  def test_numpy_scalars_are_python_numbers(self):
    kwargs = dict(alpha=np.float32(0.5), label_smoothing=np.float64(0.1), seed=np.int64(3), epochs=np.int32(2))
    config = TrainConfig(method="mixup", mix_start=np.int64(1), train_size=np.uint16(100), **kwargs)
    want = TrainConfig(method="mixup", alpha=0.5, label_smoothing=0.1, seed=3, epochs=2, mix_start=1, train_size=100)
    self.assertEqual(config, want)
    self.assertEqual(json.loads(json.dumps(config.to_dict())), want.to_dict())
    self.assertEqual(type(config.seed), int)
    self.assertEqual(type(TrainConfig(input_scale=255).input_scale), float)
    with self.assertRaisesRegex(ConfigError, "epochs must be a positive integer, got True"):
      TrainConfig(epochs=True)
    with self.assertRaisesRegex(ConfigError, "epochs must be a positive integer"):
      TrainConfig(epochs=np.float32(2))

  def test_round_trip_and_names(self):
    config = TrainConfig(classes=(6, 8, 9), method="mixup", alpha=0.4, seed=3)
    self.assertEqual(TrainConfig.from_dict(config.to_dict()), config)
    self.assertEqual(config.run_name, "mnist-689-mixup-a0.4-seed3")
    self.assertEqual(TrainConfig().run_name, "mnist-all-erm-seed0")
    self.assertEqual(TrainConfig(method="pair_sampling").run_name, "mnist-all-pair_sampling-seed0")

  def test_options_change_the_run_name(self):
    # Runs that differ in any option never share a file.
    configs = [
      TrainConfig(method="mixup_cutmix"),
      TrainConfig(method="mixup_cutmix", cutmix_alpha=0.5),
      TrainConfig(method="mixup_cutmix", switch_prob=0.2),
      TrainConfig(method="mixup_cutmix", prob=0.8),
      TrainConfig(method="mixup_cutmix", label_smoothing=0.1),
      TrainConfig(method="mixup_cutmix", off_last=2),
      TrainConfig(method="mixup_cutmix", mix_start=1, mix_on=2, mix_off=1),
      TrainConfig(method="cutmix", alpha=0.5),
    ]
    names = [c.run_name for c in configs]
    self.assertLen(set(names), len(names), msg=names)

  def test_old_saved_config_matches_defaults(self):
    # A config saved before the method options existed reads back as the same run.
    old = {"dataset": "mnist", "classes": [6, 8, 9], "method": "mixup", "alpha": 1.0, "seed": 0, "epochs": 5}
    self.assertEqual(TrainConfig.from_dict(old), TrainConfig(classes=(6, 8, 9), method="mixup", epochs=5))

  def test_schedule(self):
    self.assertIsNone(TrainConfig(method="mixup").schedule())
    schedule = TrainConfig(method="pair_sampling", epochs=12, mix_start=2, mix_on=3, mix_off=1, off_last=2).schedule()
    self.assertEqual(schedule.epochs_on(12), [2, 3, 4, 6, 7, 8])


class NoTensorFlowTest(tf.test.TestCase):
  def test_configs_flags_and_the_registry_do_not_import_tensorflow(self):
    # The command line reports a bad flag before TensorFlow loads: config, flags, checks and every method module.
    code = (
      "import sys; from absl import flags; from tfmixup import cli, config, methods, tables\n"
      "read = cli.define_flags(flags.FlagValues())\n"
      "config.TrainConfig(method='resizemix', method_args={'scale_min': 0.2}, classes=(6, 8, 9))\n"
      "try:\n  config.TrainConfig(method='cutmix', alpha=-1)\nexcept config.ConfigError as e:\n  print(e)\n"
      "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    self.assertEqual(proc.stdout.splitlines(), ["alpha must be finite and > 0, got -1.0", "[]"])
