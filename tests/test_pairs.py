"""The `exclude_pairs` stage option (`tfmixup/datasets/pairs.py`): class pairs that never mix.

Coded data: example i's image holds i in its first pixel, and a combine
function writes the partner's index into the second, so each output row
names its exact pair. Properties, each with the fault it catches:

* no excluded pair is ever drawn (the redraw skipped, or ignoring the
  exclusion);
* every example is still a first example once per epoch (examples dropped
  instead of given a new partner);
* given the first example's class, the partner's class follows the allowed
  classes' sizes (χ²), and among the allowed examples the partner is
  uniform (χ²) (a redraw biased to one class or to the first rows of a
  class, an offset error);
* positions whose pair is allowed keep exactly the partner and λ of the
  same stage without the option (the redraw applied everywhere);
* the same seed gives the same batches, the redraw changes with the epoch.
"""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from scipy import stats

from tfmixup import methods
from tfmixup.config import ConfigError, TrainConfig, parse_pairs
from tfmixup.datasets import DataError, ImageArrays, batches, mixup, paired, pairs


def _coded(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Float images [N, 1, 2, 1]: pixel 0 is the example's index, pixel 1 zero."""
  images = np.zeros((len(labels), 1, 2, 1), np.float32)
  images[:, 0, 0, 0] = np.arange(len(labels))
  return images, labels


def _with_partner(images_a, labels_a, images_b, labels_b, seed):
  del labels_b, seed
  return tf.concat([images_a[:, :, :1], images_b[:, :, :1]], axis=2), labels_a


def _pairs_of(stage: tf.data.Dataset, epochs: int) -> list[np.ndarray]:
  """Per epoch, the (first, partner) indices of every position, int [N, 2]."""
  out = []
  for _ in range(epochs):
    rows = [x.numpy()[:, 0, :, 0] for x, _ in stage]
    out.append(np.concatenate(rows).astype(np.int64))
  return out


def _labels(sizes) -> np.ndarray:
  labels = np.concatenate([np.full(n, c) for c, n in enumerate(sizes)])
  return np.random.default_rng(0).permutation(labels)


class ExcludePairsStageTest(tf.test.TestCase, parameterized.TestCase):
  SIZES = (300, 200, 100)  # unequal, so size-weighted and class-uniform redraws differ

  def _stage(self, exclude, seed=5, batch_size=128, **options):
    labels = _labels(self.SIZES)
    return paired(
      _coded(labels), _with_partner, batch_size=batch_size, seed=seed, num_classes=3, exclude_pairs=exclude, **options
    ), labels

  @parameterized.named_parameters(("cross", ((0, 2),)), ("reversed_and_same_class", ((2, 0), (1, 1))))
  def test_no_excluded_pair_and_every_example_first_once(self, exclude):
    stage, labels = self._stage(exclude)
    banned = {tuple(sorted(p)) for p in exclude}
    for pairs_e in _pairs_of(stage, 20):
      self.assertAllEqual(np.sort(pairs_e[:, 0]), np.arange(len(labels)))
      classes = np.sort(labels[pairs_e], axis=1)
      drawn = {tuple(c) for c in classes.tolist()}
      self.assertEmpty(drawn & banned)

  @pytest.mark.stats
  @pytest.mark.slow
  def test_partner_classes_follow_the_allowed_sizes(self):
    # 40 epochs × 300 first examples of class 0, whose partners may be class 0 or 1 (sizes 300:200):
    # χ² against 0.6 / 0.4; a redraw into class 1 only, or class-uniform redraws, fail (power ≈ 1).
    stage, labels = self._stage(((0, 2),))
    counts = np.zeros(3)
    for pairs_e in _pairs_of(stage, 40):
      partners = labels[pairs_e[labels[pairs_e[:, 0]] == 0, 1]]
      counts += np.bincount(partners, minlength=3)
    self.assertEqual(counts[2], 0)
    expected = np.array([300, 200]) / 500 * counts.sum()
    self.assertGreater(stats.chisquare(counts[:2], expected).pvalue, 1e-3)
    # Class 1 may mix with every class: its partners follow all three sizes.
    counts = np.zeros(3)
    for pairs_e in _pairs_of(stage, 20):
      counts += np.bincount(labels[pairs_e[labels[pairs_e[:, 0]] == 1, 1]], minlength=3)
    self.assertGreater(stats.chisquare(counts, np.array(self.SIZES) / 600 * counts.sum()).pvalue, 1e-3)

  @pytest.mark.stats
  @pytest.mark.slow
  def test_partners_uniform_over_the_allowed_examples(self):
    # Class 2's partners may only be class 1's 200 examples: every class-2 first example is redrawn
    # there. 60 epochs × 100 = 6,000 partners over 200 examples (30 each): χ²; a redraw stuck on the
    # first rows of a class, or shifted by a class offset, fails.
    stage, labels = self._stage(((0, 2), (2, 2)))
    epochs = _pairs_of(stage, 60)
    partners = np.concatenate([p[labels[p[:, 0]] == 2, 1] for p in epochs])
    self.assertAllEqual(np.unique(labels[partners]), [1])
    counts = np.bincount(partners, minlength=len(labels))[labels == 1]
    self.assertGreater(stats.chisquare(counts).pvalue, 1e-3)
    # New redraws each epoch: a position redrawn in two epochs repeats its partner with probability
    # 1/200 (a redraw stream that ignores the epoch repeats it always). Over 59 epoch pairs, ~1,000 such
    # positions: expect ~5 repeats; the bound 40 is > 10 SDs away from both.
    repeats = 0
    for e0, e1 in zip(epochs, epochs[1:], strict=False):
      both = (labels[e0[:, 0]] == 2) & (labels[e1[:, 0]] == 2)
      repeats += int(np.sum(e0[both, 1] == e1[both, 1]))
    self.assertLess(repeats, 40)

  def test_allowed_positions_keep_partner_and_lambda(self):
    labels = _labels(self.SIZES)
    data = _coded(labels)
    plain = _pairs_of(paired(data, _with_partner, batch_size=128, seed=9, num_classes=3), 3)
    excl = _pairs_of(paired(data, _with_partner, batch_size=128, seed=9, num_classes=3, exclude_pairs=((0, 2),)), 3)
    for a, b in zip(plain, excl, strict=True):
      self.assertAllEqual(a[:, 0], b[:, 0])
      allowed = np.sort(labels[a], axis=1).tolist()
      keep = np.array([tuple(c) != (0, 2) for c in allowed])
      self.assertAllEqual(a[keep, 1], b[keep, 1])
      self.assertGreater(np.mean(a[~keep, 1] != b[~keep, 1]), 0.95)  # the excluded ones were redrawn
    # Mixup's λ: the same draws with and without the option (one-hot labels of the first examples
    # whose pair is allowed carry the same weight).
    images = np.random.default_rng(1).random((600, 2, 2, 1)).astype(np.float32)
    y0 = np.concatenate([y.numpy() for _, y in mixup((images, labels), batch_size=100, seed=3, num_classes=3)])
    y1 = np.concatenate(
      [y.numpy() for _, y in mixup((images, labels), batch_size=100, seed=3, num_classes=3, exclude_pairs=((0, 2),))]
    )
    self.assertAllClose(y0.max(axis=1)[y1[:, 1] > 0], y1.max(axis=1)[y1[:, 1] > 0])
    self.assertFalse(np.any((y1[:, 0] > 0) & (y1[:, 2] > 0)))

  def test_reproducible_and_new_each_epoch(self):
    one, _ = self._stage(((0, 2),), seed=11)
    two, _ = self._stage(((0, 2),), seed=11)
    first, second = _pairs_of(one, 2), _pairs_of(two, 2)
    self.assertAllEqual(first[0], second[0])
    self.assertAllEqual(first[1], second[1])
    self.assertGreater(np.mean(first[0][:, 1] != first[1][:, 1]), 0.9)

  @pytest.mark.stats
  def test_redraw_ranks_cover_every_allowed_row(self):
    # The op itself: 0,0,0,1,1,2 classes, exclude (0, 1): class 0's redrawn partners are rows 0-2 and 5
    # (classes 0 and 2), each about a quarter of 40,000 draws.
    redraw = pairs.PartnerRedraw(np.array([0, 0, 0, 1, 1, 2]), ((0, 1),), 3)
    order_a = tf.zeros([40000], tf.int64)
    order_b = tf.fill([40000], tf.constant(3, tf.int64))
    out = redraw.redraw(order_a, order_b, tf.constant([1, 2], tf.int64)).numpy()
    counts = np.bincount(out, minlength=6)
    self.assertAllEqual(counts[[3, 4]], [0, 0])
    self.assertGreater(stats.chisquare(counts[[0, 1, 2, 5]]).pvalue, 1e-3)


class ExcludePairsErrorsTest(tf.test.TestCase, parameterized.TestCase):
  def _data(self):
    return _coded(_labels((10, 10, 10)))

  @parameterized.named_parameters(
    ("not_pairs", (0, 2), "^exclude_pairs must be pairs of class ids"),
    ("triple", ((0, 1, 2),), "^exclude_pairs must be pairs of class ids"),
    ("negative", ((-1, 2),), "^exclude_pairs must be pairs of class ids"),
    ("string", "02", "^exclude_pairs must be pairs of class ids"),
    ("outside", ((0, 3),), "^exclude_pairs names class 3, but the labels have classes 0..2"),
    ("orphan", ((0, 0), (0, 1), (0, 2)), "^exclude_pairs leaves class 0 no class to mix with"),
  )
  def test_bad_pairs(self, exclude, message):
    with self.assertRaisesRegex(DataError, message):
      mixup(self._data(), batch_size=4, seed=0, num_classes=3, exclude_pairs=exclude)

  def test_numpy_class_ids_accepted(self):
    stage = mixup(self._data(), batch_size=4, seed=0, num_classes=3, exclude_pairs=((np.int64(0), np.int32(2)),))
    self.assertLen(list(stage), 8)

  def test_needs_mixing_and_arrays(self):
    with self.assertRaisesRegex(DataError, "^exclude_pairs needs a mixing stage"):
      batches(self._data(), batch_size=4, seed=0, num_classes=3, exclude_pairs=((0, 2),))
    images, labels = self._data()
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    with self.assertRaisesRegex(DataError, "^exclude_pairs needs in-memory arrays"):
      mixup(ds, batch_size=4, seed=0, num_classes=3, exclude_pairs=((0, 2),))


class ExcludePairsConfigTest(tf.test.TestCase, parameterized.TestCase):
  def test_parse_pairs(self):
    self.assertEqual(parse_pairs("69, 68"), ((6, 9), (6, 8)))
    self.assertEqual(parse_pairs(""), ())
    for bad in ("6", "66", "6a", "691", "69,"):
      with self.assertRaisesRegex(ConfigError, "^exclude_pairs must be pairs of two different digits"):
        parse_pairs(bad)

  def test_config_canonical_named_and_round_trips(self):
    config = TrainConfig(classes=(6, 8, 9), method="mixup", exclude_pairs=((9, 6), (6, 9), (8, 6)))
    self.assertEqual(config.exclude_pairs, ((6, 8), (6, 9)))
    self.assertEqual(config.stage_pairs(), ((0, 1), (0, 2)))
    self.assertIn("-xp6.8_6.9-", config.run_name)
    self.assertNotIn("xp", TrainConfig(classes=(6, 8, 9), method="mixup").run_name)
    self.assertEqual(TrainConfig.from_dict(config.to_dict()), config)
    legacy = config.to_dict()
    del legacy["exclude_pairs"]  # a run JSON of 0.5.0
    self.assertEqual(TrainConfig.from_dict(legacy), TrainConfig(classes=(6, 8, 9), method="mixup"))

  @parameterized.named_parameters(
    ("erm", dict(method="erm"), "^exclude_pairs needs a mixing method"),
    ("outside", dict(method="mixup", classes=(6, 8, 9)), r"^exclude_pairs names class\(es\) \[7\]"),
  )
  def test_config_errors(self, changes, message):
    with self.assertRaisesRegex(ConfigError, message):
      TrainConfig(exclude_pairs=((6, 7),), **changes)
    with self.assertRaisesRegex(ConfigError, "^exclude_pairs must be pairs of two different class labels"):
      TrainConfig(method="mixup", exclude_pairs=((6, 6),))

  def test_training_data_excludes_the_relabelled_pair(self):
    # {6, 8, 9} relabelled 0, 1, 2: excluding 6 + 9 means no label row with weight on both 0 and 2.
    labels = _labels((200, 200, 200))
    images = np.random.default_rng(2).integers(0, 255, (600, 4, 4, 1)).astype(np.uint8)
    data = ImageArrays(images, labels, ("6", "8", "9"), (6, 8, 9))
    config = TrainConfig(classes=(6, 8, 9), method="mixup", exclude_pairs=((6, 9),), batch_size=100)
    rows = np.concatenate([y.numpy() for _, y in methods.get("mixup").training_data(data, config)])
    self.assertFalse(np.any((rows[:, 0] > 0) & (rows[:, 2] > 0)))
    self.assertTrue(np.any((rows[:, 0] > 0) & (rows[:, 1] > 0)))
