"""The mixing methods: CutMix's exact label weights, the coin flips' rates, label smoothing, paired(), bad options."""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import coded_arrays
from scipy import stats

from tfmixup import datasets
from tfmixup.datasets import DataError, mixers, mixing, seeds

SHAPE = (28, 28, 1)


def iterate(ds):
  """One epoch as numpy (images [N, ...], labels [N, K])."""
  batches = [(x.numpy(), y.numpy()) for x, y in ds]
  return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def as_dataset(data):
  return tf.data.Dataset.from_tensor_slices((data.images, data.labels))


def assert_weights_are_pixel_fractions(test, images, labels):
  """Every example is a collage of coded images: each label weight is its image's pixel share, exactly."""
  pixels = np.float32(images.shape[1] * images.shape[2])
  for image, label in zip(images, labels, strict=True):
    sources, counts = np.unique(image.astype(np.int64), return_counts=True)
    test.assertLessEqual(len(sources), 2)
    if len(sources) == 1:  # no box, or one example with itself
      test.assertAllClose(label[sources[0]], 1.0, rtol=0, atol=1e-6)
      continue
    for source, count in zip(sources, counts, strict=True):
      test.assertEqual(label[source], np.float32(count) / pixels, msg=f"source {source}: {count} pixels")
    test.assertAllClose(label.sum(), 1.0, rtol=0, atol=1e-6)


class CutMixTest(tf.test.TestCase, parameterized.TestCase):
  def test_arithmetic_with_given_boxes(self):
    a, b = np.zeros((4, 6, 5, 1), np.float32), np.ones((4, 6, 5, 1), np.float32)
    y_a, y_b = np.tile([[1.0, 0.0]], (4, 1)), np.tile([[0.0, 1.0]], (4, 1))
    boxes = np.array([[0, 0, 6, 5], [1, 2, 4, 3], [2, 2, 2, 4], [0, 3, 6, 5]], np.int32)
    images, labels = mixing.cut_batches(a, y_a, b, y_b, boxes)
    want = np.zeros((4, 6, 5, 1), np.float32)
    want[0] = 1
    want[1, 1:4, 2:3] = 1
    want[3, :, 3:5] = 1
    self.assertAllEqual(images, want)
    self.assertAllEqual(labels[:, 1], want.mean(axis=(1, 2, 3)).astype(np.float32))
    self.assertAllEqual(labels[:, 1], np.float32([1.0, 3 / 30, 0.0, 12 / 30]))

  @parameterized.named_parameters(("arrays", False), ("dataset", True))
  def test_label_weights_equal_pixel_fractions(self, dataset):
    # Each image is coded by its index (every pixel = index, label = index),
    # so each output pixel tells which image it came from.
    data = coded_arrays(300, num_classes=300, shape=SHAPE)
    source = as_dataset(data) if dataset else data
    ds = datasets.cutmix(source, batch_size=64, seed=3, alpha=1.0, num_classes=300)
    images, labels = iterate(ds)
    assert_weights_are_pixel_fractions(self, images, labels)
    # The boxes are real: most examples take pixels from a partner.
    self.assertGreater(np.mean([len(np.unique(x)) == 2 for x in images]), 0.9)

  def test_switch_gives_exact_cutmix_and_mixup(self):
    data = coded_arrays(300, num_classes=300, shape=SHAPE)
    ds = datasets.mixup_cutmix(data, batch_size=50, seed=5, switch_prob=0.5, num_classes=300)
    images, labels = iterate(ds)
    flat = images.reshape(len(images), -1)
    is_integer = np.all(flat == np.round(flat), axis=1)
    cut = is_integer & (np.array([len(np.unique(x)) for x in flat]) == 2)
    assert_weights_are_pixel_fractions(self, images[cut], labels[cut])
    mixed = ~is_integer  # Mixup: one blended value λ·i + (1-λ)·j everywhere
    self.assertTrue(np.all(flat[mixed] == flat[mixed][:, :1]))
    self.assertGreater(cut.sum(), 100)
    self.assertGreater(mixed.sum(), 100)

  def test_boxes_stay_in_the_image_with_the_authors_sides(self):
    lam = tf.constant(np.linspace(0.0, 1.0, 1001), tf.float32)
    boxes = datasets.sample_boxes(lam, 28, 20, seeds.root(1)).numpy()
    self.assertTrue(np.all((boxes[:, :2] >= 0) & (boxes[:, 2:] <= [28, 20]) & (boxes[:, :2] <= boxes[:, 2:])))
    cut = np.sqrt(1.0 - lam.numpy())
    max_h, max_w = 2 * ((28 * cut).astype(int) // 2), 2 * ((20 * cut).astype(int) // 2)
    self.assertTrue(np.all(boxes[:, 2] - boxes[:, 0] <= max_h) and np.all(boxes[:, 3] - boxes[:, 1] <= max_w))
    inside = (boxes[:, 0] > 0) & (boxes[:, 2] < 28) & (boxes[:, 1] > 0) & (boxes[:, 3] < 20)
    self.assertAllEqual((boxes[:, 2] - boxes[:, 0])[inside], max_h[inside])
    self.assertAllEqual(boxes[-1, 2] - boxes[-1, 0], 0)  # λ = 1: no box

  @pytest.mark.stats
  def test_box_centres_are_uniform(self):
    # λ = 0.75 gives sides of 14: the centre is bottom - 7, or top + 7 when clipped below.
    n = 28 * 2000
    boxes = datasets.sample_boxes(tf.fill([n], 0.75), 28, 28, seeds.root(7)).numpy()
    for top, bottom in ((boxes[:, 0], boxes[:, 2]), (boxes[:, 1], boxes[:, 3])):
      centre = np.where(bottom < 28, bottom - 7, top + 7)
      counts = np.bincount(centre, minlength=28)
      self.assertLen(counts, 28)
      self.assertGreater(stats.chisquare(counts).pvalue, 1e-4)


class ProbabilityTest(tf.test.TestCase, parameterized.TestCase):
  """The coin flips, per sample, within 99.99% binomial bounds at N = 60,000."""

  N_BATCHES, BATCH = 250, 240

  def assertBinomial(self, count, p):
    n = self.N_BATCHES * self.BATCH
    low, high = stats.binom.interval(0.9999, n, p)
    self.assertBetween(count, low, high, msg=f"{count} of {n}, p = {p}")

  def draw(self, mixer, seed=11):
    return mixer.draw(seeds.root(seed), self.N_BATCHES, self.BATCH, SHAPE)

  @staticmethod
  def box_area(boxes):
    boxes = boxes.numpy()
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])

  @parameterized.parameters(0.0, 0.3, 1.0)
  @pytest.mark.stats
  def test_mixup_prob(self, prob):
    lam = self.draw(mixers.Mixup(alpha=1.0, prob=prob))["lam"].numpy()
    self.assertBinomial(np.sum(lam < 1), prob)

  @parameterized.parameters(0.25, 1.0)
  @pytest.mark.stats
  def test_pair_sampling_prob(self, prob):
    lam = self.draw(mixers.PairSampling(prob=prob))["lam"].numpy()
    self.assertBinomial(np.sum(lam == 0.5), prob)
    self.assertEqual(np.sum(lam == 0.5) + np.sum(lam == 1.0), lam.size)

  @pytest.mark.stats
  def test_cutmix_prob(self):
    # A box is empty when int(28·√(1-λ)) < 2, i.e. 1 - λ < 1/196: for
    # λ ~ Beta(1, 1), probability 1/196.
    area = self.box_area(self.draw(mixers.CutMix(alpha=1.0, prob=0.6))["boxes"])
    self.assertBinomial(np.sum(area > 0), 0.6 * 195 / 196)

  @parameterized.parameters((0.7, 0.3), (1.0, 0.5), (0.5, 1.0), (0.8, 0.0))
  @pytest.mark.stats
  def test_switch_and_apply(self, prob, switch_prob):
    drawn = self.draw(mixers.MixupOrCutMix(switch_prob=switch_prob, prob=prob))
    lam, area = drawn["lam"].numpy(), self.box_area(drawn["boxes"])
    self.assertBinomial(np.sum(lam < 1), prob * (1 - switch_prob))
    self.assertBinomial(np.sum(area > 0), prob * switch_prob * 195 / 196)
    self.assertEqual(np.sum((lam < 1) & (area > 0)), 0)  # never both

  def test_prob_zero_passes_batches_through(self):
    data = coded_arrays(200, num_classes=4, shape=SHAPE)
    plain = iterate(datasets.batches(data, batch_size=32, seed=9))
    for stage in (datasets.mixup, datasets.cutmix, datasets.pair_sampling, datasets.mixup_cutmix):
      images, labels = iterate(stage(data, batch_size=32, seed=9, prob=0.0))
      self.assertAllEqual(images, plain[0])
      self.assertAllEqual(labels, plain[1])


STAGES = {
  "batches": datasets.batches,
  "mixup": lambda data, **o: datasets.mixup(data, alpha=0.4, **o),
  "cutmix": datasets.cutmix,
  "mixup_cutmix": datasets.mixup_cutmix,
  "pair_sampling": datasets.pair_sampling,
  "paired": lambda data, **o: datasets.paired(data, lambda xa, ya, xb, yb, s: (xb, 0.5 * (ya + yb)), **o),
}


class LabelSmoothingTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    *[(f"{name}_{source}", name, source) for name in STAGES for source in ("arrays", "dataset")]
  )
  def test_every_method_smooths(self, name, source):
    data = coded_arrays(120, num_classes=5, shape=(6, 6, 1))
    inputs = as_dataset(data) if source == "dataset" else data
    plain_x, plain_y = iterate(STAGES[name](inputs, batch_size=32, seed=2, num_classes=5))
    x, y = iterate(STAGES[name](inputs, batch_size=32, seed=2, num_classes=5, label_smoothing=0.2))
    self.assertAllEqual(x, plain_x)
    self.assertAllClose(y, 0.8 * plain_y + 0.2 / 5, rtol=0, atol=1e-6)
    self.assertAllClose(y.sum(axis=1), np.ones(len(y)), atol=1e-6)

  def test_evaluation_batches_smooth_too(self):
    data = coded_arrays(10, num_classes=2)
    _, y = iterate(datasets.batches(data, batch_size=4, label_smoothing=0.1))
    self.assertAllClose(y, np.eye(2)[np.arange(10) % 2] * 0.9 + 0.05)


class PairedTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(("arrays", False), ("dataset", True))
  def test_combine_gets_both_batches_and_a_fresh_seed(self, dataset):
    data = coded_arrays(96, num_classes=3)
    seen = []

    def combine(x_a, y_a, x_b, y_b, seed):
      # Returns the first index, the partner's index and the seed's words.
      code = tf.stack([x_a[:, 0, 0, 0], x_b[:, 0, 0, 0], tf.fill([tf.shape(x_a)[0]], tf.cast(seed[0], tf.float32))], 1)
      return tf.reshape(code, [-1, 1, 1, 3]), 0.5 * (y_a + y_b)

    source = as_dataset(data) if dataset else data
    ds = datasets.paired(source, combine, batch_size=32, seed=4, num_classes=3)
    for _ in range(2):
      images, labels = iterate(ds)
      first, partner, batch_seed = images[:, 0, 0, 0], images[:, 0, 0, 1], images[:, 0, 0, 2]
      self.assertCountEqual(first, range(96))
      self.assertCountEqual(partner, range(96))
      self.assertLess(np.mean(first == partner), 0.2)
      want = 0.5 * (np.eye(3)[first.astype(int) % 3] + np.eye(3)[partner.astype(int) % 3])
      self.assertAllClose(labels, want)
      seen.append(batch_seed[::32])
    self.assertLen(np.unique(np.concatenate(seen)), 6)  # a new seed per batch and epoch

  def test_readme_example(self):
    data = coded_arrays(64, num_classes=4, shape=(8, 8, 1))

    def half_and_half(images_a, labels_a, images_b, labels_b, seed):
      """Left half from the first image, right half from the partner; labels 50/50."""
      del seed
      width = images_a.shape[2]
      mask = tf.reshape(tf.range(width) < width // 2, [1, 1, width, 1])
      return tf.where(mask, images_a, images_b), 0.5 * (labels_a + labels_b)

    x, y = next(iter(datasets.paired(data, half_and_half, batch_size=16, seed=0)))
    self.assertEqual(x.shape, (16, 8, 8, 1))
    self.assertAllClose(tf.reduce_sum(y, axis=1), tf.ones(16))

  def test_combine_must_be_callable(self):
    with self.assertRaisesRegex(DataError, "combine must be a function"):
      datasets.paired(coded_arrays(8), "mixup", batch_size=4, seed=0)


class BadOptionsTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("alpha", datasets.mixup, dict(alpha=0), "alpha must be finite and > 0"),
    ("cutmix_alpha", datasets.cutmix, dict(alpha=float("inf")), "alpha must be finite and > 0"),
    ("mixup_alpha", datasets.mixup_cutmix, dict(mixup_alpha=-1), "mixup_alpha must be finite and > 0"),
    ("cutmix_alpha_switch", datasets.mixup_cutmix, dict(cutmix_alpha="x"), "cutmix_alpha must be a number > 0"),
    ("prob_high", datasets.mixup, dict(prob=1.5), r"prob must be a probability in \[0, 1\], got 1.5"),
    ("prob_nan", datasets.cutmix, dict(prob=float("nan")), "prob must be a probability"),
    ("prob_text", datasets.pair_sampling, dict(prob="half"), "prob must be a probability"),
    ("switch_prob", datasets.mixup_cutmix, dict(switch_prob=-0.5), "switch_prob must be a probability"),
    ("smoothing_one", datasets.mixup, dict(label_smoothing=1.0), r"label_smoothing must be a number in \[0, 1\)"),
    ("smoothing_negative", datasets.batches, dict(label_smoothing=-0.1), "label_smoothing must be a number"),
    ("smoothing_bool", datasets.cutmix, dict(label_smoothing=True), "label_smoothing must be a number"),
    ("schedule_type", datasets.mixup, dict(schedule=[0, 1]), "schedule must be a tfmixup.datasets.Schedule"),
    ("initial_epoch", datasets.mixup, dict(initial_epoch=-1), "initial_epoch must be an integer >= 0"),
    ("initial_epoch_float", datasets.pair_sampling, dict(initial_epoch=1.5), "initial_epoch must be an integer"),
    ("shuffle_buffer", datasets.mixup, dict(shuffle_buffer=0), "shuffle_buffer must be a positive integer"),
  )
  def test_bad_option(self, stage, options, message):
    with self.assertRaisesRegex(DataError, message):
      stage(coded_arrays(16), batch_size=4, seed=0, **options)

  def test_unknown_option(self):
    with self.assertRaisesRegex(TypeError, "unknown stage option.* label_smothing; the options are num_classes"):
      datasets.mixup(coded_arrays(16), batch_size=4, seed=0, label_smothing=0.1)

  def test_cutmix_needs_a_known_image_size(self):
    ds = tf.data.Dataset.from_generator(
      lambda: iter([(np.zeros((5, 5, 1), np.float32), 0)]),
      output_signature=(tf.TensorSpec([None, None, 1], tf.float32), tf.TensorSpec([], tf.int64)),
    )
    with self.assertRaisesRegex(DataError, "CutMix needs a known image height and width"):
      datasets.cutmix(ds, batch_size=2, seed=0, num_classes=2)


if __name__ == "__main__":
  tf.test.main()
