"""The three-conv Keras model."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfmixup.model import build_model


class ModelTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(("mnist", (28, 28, 1), 10), ("subset", (28, 28, 1), 3), ("cifar", (32, 32, 3), 10))
  def test_output_shape(self, input_shape, num_classes):
    model = build_model(input_shape, num_classes)
    logits = model(np.zeros((5, *input_shape), np.float32))
    self.assertEqual(tuple(logits.shape), (5, num_classes))

  def test_three_relu_convs_then_dense(self):
    model = build_model((28, 28, 1), 3)
    self.assertIsInstance(model, keras.Sequential)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    self.assertLen(convs, 3)
    self.assertTrue(all(layer.activation is keras.activations.relu for layer in convs))
    self.assertIsInstance(model.layers[-1], keras.layers.Dense)

  def test_parameter_count_matches_the_docstring(self):
    # 3x3 convolutions: 9·1·32+32, 9·32·64+64, 9·64·64+64; Dense 3·3·64·10+10.
    want = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64) + (3 * 3 * 64 * 10 + 10)
    self.assertEqual(build_model((28, 28, 1), 10).count_params(), want)
    self.assertEqual(want, 61_514)

  def test_needs_three_widths(self):
    with self.assertRaisesRegex(ValueError, "three widths"):
      build_model((28, 28, 1), 3, filters=(8, 8))
