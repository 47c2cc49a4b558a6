"""ResizeMix (tfmixup/methods/resizemix.py): the arithmetic, exact label weights, the draws' distributions, pairing,
the config's knobs and a run from the command line."""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR, coded_arrays
from scipy import stats
from test_mixers import assert_weights_are_pixel_fractions, iterate

from tfmixup import datasets, methods
from tfmixup.config import ConfigError, TrainConfig
from tfmixup.datasets import DataError, seeds
from tfmixup.methods.resizemix import ResizeMix, paste_resized, resizemix

SHAPE = (28, 28, 1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def expected_paste(image_a, image_b, box):
  """The oracle, pixel by pixel: box pixel (r, c) shows the partner's pixel (⌊(r-top)·H/h⌋, ⌊(c-left)·W/w⌋)."""
  out = image_a.copy()
  height, width = image_a.shape[:2]
  top, left, bottom, right = box
  for r in range(top, bottom):
    for c in range(left, right):
      out[r, c] = image_b[(r - top) * height // (bottom - top), (c - left) * width // (right - left)]
  return out


class ArithmeticTest(tf.test.TestCase):
  def test_the_whole_partner_is_shrunk_into_the_box(self):
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(4, 6, 8, 2)).astype(np.float32)
    b = (np.arange(4 * 6 * 8 * 2).reshape(4, 6, 8, 2) + 10.0).astype(np.float32)  # every pixel its own value
    y_a, y_b = np.tile([[1.0, 0.0]], (4, 1)).astype(np.float32), np.tile([[0.0, 1.0]], (4, 1)).astype(np.float32)
    boxes = np.array([[1, 2, 4, 6], [0, 0, 6, 8], [2, 3, 2, 3], [5, 7, 6, 8]], np.int32)  # part, all, empty, 1 px
    images, labels = paste_resized(a, y_a, b, y_b, boxes)
    for i, box in enumerate(boxes):
      self.assertAllEqual(images[i], expected_paste(a[i], b[i], box))
    self.assertAllEqual(images[1], b[1])  # a box of the whole image: the partner itself
    self.assertAllEqual(images[3, 5, 7], b[3, 0, 0])  # one pixel: the partner's first
    self.assertAllEqual(labels[:, 1], np.float32([12 / 48, 1.0, 0.0, 1 / 48]))
    self.assertAllEqual(labels[:, 0], np.float32([36 / 48, 0.0, 1.0, 47 / 48]))


class StageTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(("arrays", False), ("dataset", True))
  def test_label_weights_equal_pixel_fractions(self, dataset):
    data = coded_arrays(300, num_classes=300, shape=SHAPE)  # pixel = label = the example's index
    source = tf.data.Dataset.from_tensor_slices((data.images, data.labels)) if dataset else data
    images, labels = iterate(resizemix(source, batch_size=64, seed=3, num_classes=300))
    assert_weights_are_pixel_fractions(self, images, labels)
    self.assertGreater(np.mean([len(np.unique(x)) == 2 for x in images]), 0.95)

  def test_partners_are_a_fresh_permutation_each_epoch(self):
    data = coded_arrays(600, num_classes=600, shape=SHAPE)
    stage = datasets.resizemix(data, batch_size=50, seed=8, num_classes=600)  # found by name in datasets
    plain = datasets.batches(data, batch_size=50, seed=8, num_classes=600)  # pass A, epoch by epoch
    partners = []
    for _ in range(2):
      first = iterate(plain)[1].argmax(axis=1)
      images, _ = iterate(stage)
      values = [np.unique(x) for x in images]
      partners.append(np.array([v[v != f][0] if len(v) == 2 else f for v, f in zip(values, first, strict=True)]))
      self.assertLess(np.sum(partners[-1] == first), 8)  # self-pairs: Binomial(600, 1/600), P(>= 8) < 1e-5
    for epoch in partners:  # pass B is a permutation: every example is a partner once per epoch
      self.assertAllEqual(np.sort(epoch), np.arange(600))
    self.assertLess(np.sum(partners[0] == partners[1]), 8)  # new partners each epoch

  def test_prob_zero_passes_batches_through(self):
    data = coded_arrays(200, num_classes=4, shape=SHAPE)
    plain = iterate(datasets.batches(data, batch_size=32, seed=9))
    images, labels = iterate(resizemix(data, batch_size=32, seed=9, prob=0.0))
    self.assertAllEqual(images, plain[0])
    self.assertAllEqual(labels, plain[1])

  def test_bad_knobs_are_one_line_errors(self):
    data = coded_arrays(8, shape=SHAPE)
    for knobs, message in (
      (dict(scale_min=0.0), r"0 < scale_min <= scale_max <= 1"),
      (dict(scale_min=0.5, scale_max=0.4), r"0 < scale_min <= scale_max <= 1"),
      (dict(scale_max=1.5), r"scale_max must be a probability in \[0, 1\], got 1.5"),
      (dict(prob=-0.1), r"prob must be a probability"),
    ):
      with self.assertRaisesRegex(DataError, message):
        resizemix(data, batch_size=4, seed=0, **knobs)
    dataset = tf.data.Dataset.from_generator(
      lambda: iter([(np.zeros((5, 5, 1), np.float32), 0)]),
      output_signature=(tf.TensorSpec([None, None, 1], tf.float32), tf.TensorSpec([], tf.int64)),
    )
    with self.assertRaisesRegex(DataError, "ResizeMix needs a known image height and width"):
      resizemix(dataset, batch_size=2, seed=0, num_classes=2)


@pytest.mark.stats
class DrawTest(tf.test.TestCase):
  """The boxes' sides and positions, within χ² and binomial bounds at N = 60,000 boxes."""

  N_BATCHES, BATCH = 250, 240

  def boxes(self, mixer, seed=11):
    return mixer.draw(seeds.root(seed), self.N_BATCHES, self.BATCH, SHAPE)["boxes"].numpy().reshape(-1, 4)

  def test_sides_follow_the_uniform_scale(self):
    low, high = 0.1, 0.8
    boxes = self.boxes(ResizeMix(scale_min=low, scale_max=high))
    h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    self.assertAllEqual(h, w)  # a square image: one τ for both sides
    # P(round(28·τ) = k) for τ ~ U(low, high): the overlap of [(k - 1/2)/28, (k + 1/2)/28) with [low, high].
    sides = np.arange(1, 29)
    p = np.clip(np.minimum((sides + 0.5) / 28, high) - np.maximum((sides - 0.5) / 28, low), 0, None) / (high - low)
    counts = np.bincount(h, minlength=29)[1:]
    self.assertEqual(counts[p == 0].sum(), 0)
    self.assertGreater(stats.chisquare(counts[p > 0], p[p > 0] * len(h)).pvalue, 1e-4)

  def test_boxes_lie_inside_at_uniform_positions(self):
    boxes = self.boxes(ResizeMix())
    self.assertTrue(np.all((boxes[:, :2] >= 0) & (boxes[:, 2:] <= 28) & (boxes[:, :2] < boxes[:, 2:])))
    fixed = self.boxes(ResizeMix(scale_min=0.5, scale_max=0.5), seed=4)  # sides of 14: 15 places per axis
    self.assertAllEqual(fixed[:, 2] - fixed[:, 0], np.full(len(fixed), 14))
    for start in (fixed[:, 0], fixed[:, 1]):
      counts = np.bincount(start, minlength=15)
      self.assertLen(counts, 15)
      self.assertGreater(stats.chisquare(counts).pvalue, 1e-4)
    self.assertLess(abs(stats.pearsonr(fixed[:, 0], fixed[:, 1])[0]), 0.02)  # rows and columns apart

  def test_prob(self):
    boxes = self.boxes(ResizeMix(prob=0.6))
    count, n = np.sum(boxes[:, 2] > boxes[:, 0]), len(boxes)
    self.assertBetween(count, *stats.binom.interval(0.9999, n, 0.6))


class ConfigTest(tf.test.TestCase):
  def test_knobs_come_from_method_args(self):
    config = TrainConfig(method="resizemix", method_args={"scale_min": 0.25, "prob": 0.5})
    self.assertEqual(config.method_args, (("scale_min", 0.25),))
    self.assertEqual(config.prob, 0.5)  # a knob a field sets goes to the field: one run, one config
    self.assertEqual(config, TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))))
    self.assertEqual(methods.get("resizemix").knobs(config), {"prob": 0.5, "scale_min": 0.25})
    self.assertIn("scale_min0.25", config.run_id)
    self.assertNotEqual(config.run_id, TrainConfig(method="resizemix", prob=0.5).run_id)
    for args, message in (
      ({"scale_min": 0.0}, "0 < scale_min"),
      ({"zoom": 2}, r"method 'resizemix' has no knob zoom; its knobs are scale_min, scale_max, prob"),
    ):
      with self.assertRaisesRegex(ConfigError, message):
        TrainConfig(method="resizemix", method_args=args)


@pytest.mark.slow
class CommandLineTest(tf.test.TestCase):
  def test_trains_from_train_main(self):
    with tempfile.TemporaryDirectory() as out:
      args = [f"--data_dir={MNIST_DIR}", "--subset=47", "--train_size=256", "--epochs=1", "--runs=1"]
      args += ["--method=resizemix", "--method_args=scale_min=0.3", f"--output_dir={out}"]
      proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train_main.py"), *args], capture_output=True, text=True, check=False
      )
      self.assertEqual(proc.returncode, 0, msg=proc.stderr[-3000:])
      self.assertIn("ResizeMix", proc.stdout)
      (path,) = [os.path.join(out, "runs", f) for f in os.listdir(os.path.join(out, "runs"))]
      with open(path) as f:
        result = json.load(f)
      self.assertEqual(result["config"]["method"], "resizemix")
      self.assertEqual(result["config"]["method_args"], {"scale_min": 0.3})
      self.assertTrue(0 < result["test_accuracy"] <= 1)
