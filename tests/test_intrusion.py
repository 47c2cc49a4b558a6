"""The intrusion measurement, with a classifier whose answers are known."""

import numpy as np
import tensorflow as tf

from tfmixup.datasets import ImageArrays
from tfmixup.study import intrusion


class NearestBrightness:
  """Stands in for a Keras model: predicts the class whose brightness is nearest."""

  def __init__(self, centers):
    self.centers = np.asarray(centers, np.float32)

  def predict(self, images, batch_size=None, verbose=0):
    del batch_size, verbose
    brightness = images.reshape(len(images), -1).mean(axis=1)
    return -np.abs(brightness[:, None] - self.centers[None, :])  # logits: nearest wins


def constant_images(values, per_class=7):
  values = np.asarray(values, np.float32)
  labels = np.repeat(np.arange(len(values)), per_class)
  images = np.broadcast_to(values[labels].reshape(-1, 1, 1, 1), (len(labels), 3, 3, 1)).copy()
  names = tuple(str(c) for c in range(len(values)))
  return ImageArrays(images=images, labels=labels, class_names=names, source_classes=tuple(range(len(values))))


class IntrusionRatesTest(tf.test.TestCase):
  def test_known_intrusions(self):
    # Classes at brightness 0, 1 and 0.5: any mix of 0 and 1 at λ in {0.3,
    # 0.5, 0.7} lies at 0.3..0.7, nearest 0.5, the third class. Mixes with
    # class 2 stay between it and the other class: never the third.
    test = constant_images([0.0, 1.0, 0.5])
    rows = intrusion.intrusion_rates(NearestBrightness([0.0, 1.0, 0.5]), test)
    self.assertLen(rows, 6 * 3)  # ordered pairs x λ
    for row in rows:
      self.assertEqual(row["pairs"], 7)
      if {row["first"], row["second"]} == {"0", "1"}:
        self.assertEqual(row["intrusion"], 1.0, msg=row)
      else:
        self.assertEqual(row["intrusion"], 0.0, msg=row)
      self.assertAlmostEqual(row["to_first"] + row["to_second"] + row["intrusion"], 1.0)
    # λ=0.7 of class 2 (0.5) with class 0 gives 0.35: nearer 0.5, the first.
    row = next(r for r in rows if (r["first"], r["second"], r["lam"]) == ("2", "0", 0.7))
    self.assertEqual(row["to_first"], 1.0)

  def test_mixtures_scale_uint8(self):
    a = np.full((2, 2, 2, 1), 255, np.uint8)
    b = np.zeros((2, 2, 2, 1), np.uint8)
    self.assertAllClose(intrusion.mixtures(a, b, 0.3), np.full((2, 2, 2, 1), 0.3))

  def test_resemblance_and_controls(self):
    # Class 2's mean is exactly the average of classes 0 and 1: score 1.
    rng = np.random.default_rng(0)
    m0, m1 = rng.random(16), rng.random(16)
    means = np.stack([m0, m1, (m0 + m1) / 2, rng.random(16), rng.random(16), rng.random(16)])
    labels = np.repeat(np.arange(6), 2)
    data = ImageArrays(
      images=means[labels].reshape(-1, 4, 4, 1),
      labels=labels,
      class_names=tuple("abcdef"),
      source_classes=tuple(range(6)),
    )
    self.assertAlmostEqual(intrusion.mixture_resemblance(data, (0, 1, 2)), 1.0, places=5)
    self.assertLess(intrusion.mixture_resemblance(data, (3, 4, 5)), 0.99)
    controls = intrusion.pick_controls(data, count=2)
    self.assertLen(controls, 2)
    self.assertEmpty(set(controls[0][0]) & set(controls[1][0]))
    self.assertNotEqual(set(controls[0][0]), {0, 1, 2})
    self.assertLessEqual(controls[0][1], controls[1][1])
