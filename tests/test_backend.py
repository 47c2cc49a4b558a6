"""tfmixup.backend: which backend and devices train, and when to compile."""

from unittest import mock

import keras
import tensorflow as tf
from absl.testing import parameterized

from tfmixup import backend


def info(name: str, accelerated: bool) -> backend.BackendInfo:
  return backend.BackendInfo(name=name, devices=("d",), accelerated=accelerated)


class JitCompileTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("jax_cpu", "jax", False, True),
    ("jax_gpu", "jax", True, True),
    ("tensorflow_cpu", "tensorflow", False, False),
    ("tensorflow_gpu", "tensorflow", True, True),
    ("torch_gpu", "torch", True, False),
  )
  def test_auto(self, name, accelerated, expected):
    self.assertIs(backend.resolve_jit_compile("auto", info(name, accelerated)), expected)

  @parameterized.parameters("jax", "tensorflow", "torch")
  def test_explicit_settings_win(self, name):
    for accelerated in (False, True):
      self.assertTrue(backend.resolve_jit_compile("true", info(name, accelerated)))
      self.assertFalse(backend.resolve_jit_compile("false", info(name, accelerated)))


class InfoTest(tf.test.TestCase):
  def test_names_the_running_backend_and_its_devices(self):
    found = backend.info()
    self.assertEqual(found.name, keras.backend.backend())
    self.assertNotEmpty(found.devices)
    # This machine has no accelerator; a GPU would be named by the backend.
    self.assertEqual(found.accelerated, bool(tf.config.list_physical_devices("GPU")))
    self.assertFalse(any("GPU" in d or "cuda" in d for d in found.devices) and not found.accelerated)


class TensorflowOffAcceleratorsTest(tf.test.TestCase):
  def test_hidden_under_other_backends(self):
    with mock.patch.object(tf.config, "set_visible_devices") as hide:
      self.assertTrue(backend.keep_tensorflow_off_accelerators("jax"))
    hide.assert_called_once_with([], "GPU")

  def test_left_alone_when_tensorflow_trains(self):
    with mock.patch.object(tf.config, "set_visible_devices") as hide:
      self.assertFalse(backend.keep_tensorflow_off_accelerators("tensorflow"))
    hide.assert_not_called()

  def test_too_late_is_a_warning_not_a_crash(self):
    error = RuntimeError("Visible devices cannot be modified after being initialized")
    with mock.patch.object(tf.config, "set_visible_devices", side_effect=error):
      with self.assertLogs(level="WARNING") as logs:
        self.assertFalse(backend.keep_tensorflow_off_accelerators("jax"))
    self.assertIn("could not hide its GPUs", logs.output[0])
