"""Statistical tests of pairing: proper, independent permutations every epoch, on every input path.

The paths: in-memory arrays, a `tf.data.Dataset`, and the device feed
(in-memory arrays mixed by `ResidentImages`, which must pass the same tests).

Each example's identity is readable from the stage's output (see `identity_data`),
so every test sees exactly which example was paired with which. Sizes are
large (60,000 in memory, 30,000 through a `tf.data.Dataset`), where tfmixup
0.1.0's `index_shuffle` permutations were strongly related; bounds are
several standard deviations of the independent case, at fixed seeds.
"""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from scipy import stats

from tfmixup import datasets

# Soft label rows (t, 1 - t) with t = i / 2**16 carry an example's index
# exactly in float32, and pair sampling keeps the first example's row.
_SCALE = 2.0**16
ARRAY_SIZE = 60_000
DATASET_SIZE = 30_000
BATCH = 500


class DeviceEpochs:
  """A device feed read like a stage: one epoch of numpy `(images, labels)` batches per iteration."""

  def __init__(self, feed: datasets.DeviceFeed) -> None:
    self.feed = feed

  def __iter__(self):
    return self.feed.batches(1)


def identity_data(size: int, as_dataset: bool):
  """Image i is the constant i ([1, 1, 1]); its label row is (i/2**16, 1 - i/2**16)."""
  index = np.arange(size)
  images = index.astype(np.float32).reshape(size, 1, 1, 1)
  t = (index / _SCALE).astype(np.float32)
  labels = np.stack([t, 1 - t], axis=1)
  if as_dataset is True:
    return tf.data.Dataset.from_tensor_slices((images, labels))
  return images, labels


def first_and_partner(ds) -> tuple[np.ndarray, np.ndarray]:
  """One epoch of pair sampling over `identity_data`: (first index, partner index), in order."""
  firsts, partners = [], []
  for x, y in ds:
    a = np.rint(np.asarray(y)[:, 0].astype(np.float64) * _SCALE)
    firsts.append(a)
    partners.append(np.rint(2 * np.asarray(x).reshape(-1).astype(np.float64) - a))
  return np.concatenate(firsts).astype(np.int64), np.concatenate(partners).astype(np.int64)


def pair_stage(size: int, as_dataset: bool | str, seed: int | None = 0):
  """Pair sampling over `identity_data`; `as_dataset`: False (arrays), True (a Dataset) or "device"."""
  if as_dataset == "device":
    return DeviceEpochs(datasets.device_pair_sampling(identity_data(size, False), batch_size=BATCH, seed=seed))
  return datasets.pair_sampling(identity_data(size, as_dataset), batch_size=BATCH, seed=seed)


def same_eighth(u: np.ndarray, v: np.ndarray, size: int) -> float:
  """Share of positions whose two indices fall in the same eighth of the range (1/8 if independent)."""
  return float(np.mean(u * 8 // size == v * 8 // size))


PATHS = (("arrays", False, ARRAY_SIZE), ("dataset", True, DATASET_SIZE), ("device", "device", ARRAY_SIZE))


@pytest.mark.stats
class PairingStatisticsTest(tf.test.TestCase, parameterized.TestCase):
  """Two epochs of pair sampling per path, shared by the tests of that path."""

  _cache: dict = {}

  def epochs(self, as_dataset: bool, size: int):
    if as_dataset not in self._cache:
      ds = pair_stage(size, as_dataset)
      self._cache[as_dataset] = [first_and_partner(ds) for _ in range(2)]
    return self._cache[as_dataset]

  @parameterized.named_parameters(*PATHS)
  def test_each_epoch_is_two_permutations(self, as_dataset, size):
    for first, partner in self.epochs(as_dataset, size):
      self.assertAllEqual(np.sort(first), np.arange(size))
      self.assertAllEqual(np.sort(partner), np.arange(size))

  @parameterized.named_parameters(*PATHS)
  def test_passes_are_uncorrelated(self, as_dataset, size):
    # Independent permutations: corr ~ N(0, 1/size), sd 0.004 at 60k; same
    # eighth 0.125 ± 0.0014. tfmixup 0.1.0's passes reached 0.82 and 0.55.
    for first, partner in self.epochs(as_dataset, size):
      self.assertLess(abs(np.corrcoef(first, partner)[0, 1]), 5 / np.sqrt(size))
      self.assertBetween(same_eighth(first, partner, size), 0.125 - 0.01, 0.125 + 0.01)
      # Partners are far, not near in index: median |a - b| ≈ (1 - 1/√2)·n.
      self.assertBetween(np.median(np.abs(first - partner)) / size, 0.293 - 0.01, 0.293 + 0.01)

  @parameterized.named_parameters(*PATHS)
  def test_epoch_orders_are_uncorrelated(self, as_dataset, size):
    (first0, partner0), (first1, partner1) = self.epochs(as_dataset, size)
    for e0, e1 in ((first0, first1), (partner0, partner1)):
      self.assertLess(abs(np.corrcoef(e0, e1)[0, 1]), 5 / np.sqrt(size))
      self.assertBetween(same_eighth(e0, e1, size), 0.125 - 0.01, 0.125 + 0.01)

  @parameterized.named_parameters(*PATHS)
  def test_partner_distribution_is_uniform(self, as_dataset, size):
    # χ² over a 16 x 16 table of (first's sixteenth, partner's sixteenth):
    # independent uniform pairs fill it evenly. (Fixed seed; p > 0.001.)
    first, partner = self.epochs(as_dataset, size)[0]
    table = np.zeros((16, 16))
    np.add.at(table, (first * 16 // size, partner * 16 // size), 1)
    self.assertGreater(stats.chisquare(table.ravel()).pvalue, 1e-3)

  @parameterized.named_parameters(*PATHS)
  def test_pairs_rarely_repeat_across_epochs(self, as_dataset, size):
    # Independent epochs: each example meets the same partner again with
    # probability 1/size, about 1 in all (Poisson(1): P(X > 10) < 1e-8).
    # tfmixup 0.1.0: 83% at 60k.
    (first0, partner0), (first1, partner1) = self.epochs(as_dataset, size)
    partner_of0, partner_of1 = np.empty(size, np.int64), np.empty(size, np.int64)
    partner_of0[first0], partner_of1[first1] = partner0, partner1
    self.assertLessEqual(int(np.sum(partner_of0 == partner_of1)), 10)

  @parameterized.named_parameters(*PATHS)
  def test_self_pairs_near_one_per_epoch(self, as_dataset, size):
    # An example is its own partner with probability 1/size: about 1 per epoch.
    for first, partner in self.epochs(as_dataset, size):
      self.assertLessEqual(int(np.sum(first == partner)), 10)


@pytest.mark.stats
class ClassSortedTest(tf.test.TestCase, parameterized.TestCase):
  """Data stored sorted by class: pairs are same-class with probability Σ p_k², no more."""

  @parameterized.named_parameters(("arrays", False, 40_000), ("dataset", True, 20_000), ("device", "device", 40_000))
  def test_same_class_fraction(self, as_dataset, size):
    shares = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.06, 0.05, 0.04])
    labels = np.repeat(np.arange(8), np.round(shares * size).astype(int))[:size]
    expected = float(np.sum(np.bincount(labels, minlength=8) ** 2) / size**2)
    # Class-coded images: pair sampling's (a + b)/2 = (c_a + c_b)/2, and the
    # label keeps c_a; the sum reveals c_b.
    images = labels.astype(np.float32).reshape(-1, 1, 1, 1)
    data = tf.data.Dataset.from_tensor_slices((images, labels)) if as_dataset is True else (images, labels)
    if as_dataset == "device":
      ds = DeviceEpochs(datasets.device_pair_sampling(data, batch_size=BATCH, seed=3, num_classes=8))
    else:
      ds = datasets.pair_sampling(data, batch_size=BATCH, seed=3, num_classes=8)
    same = []
    for x, y in ds:
      c_a = np.argmax(np.asarray(y), axis=1)
      c_b = np.rint(2 * np.asarray(x).reshape(-1) - c_a)
      same.append(c_a == c_b)
    fraction = float(np.mean(np.concatenate(same)))
    # sd of the fraction ~ 0.002 here; tfmixup 0.1.0 gave 0.895 for 0.125.
    self.assertBetween(fraction, expected - 0.01, expected + 0.01)


class MixupPairsTest(tf.test.TestCase, parameterized.TestCase):
  """Mixup's own stream: partners, self-pairs and λ, read back exactly.

  The first example of each mix is known (Mixup's first pass is the order
  of `batches` with the same seed); labels are one-hot over 16 classes
  (class = index mod 16), so wherever the two classes differ, the label at
  the first example's class is λ exactly, and the image gives the partner.
  """

  SIZE = 32_000
  ALPHA = 1.0  # λ = 1 exactly (an apparent self-pair) is then ~1e-7 per draw

  def setUp(self):
    super().setUp()
    index = np.arange(self.SIZE)
    self.data = (index.astype(np.float32).reshape(-1, 1, 1, 1), index % 16)

  def stream(self, as_dataset: bool | str, seed: int):
    data = tf.data.Dataset.from_tensor_slices(self.data) if as_dataset is True else self.data
    first = datasets.batches(data, batch_size=BATCH, seed=seed, num_classes=16)
    if as_dataset == "device":
      feed = datasets.device_mixup(data, batch_size=BATCH, seed=seed, alpha=self.ALPHA, num_classes=16)
      return first, DeviceEpochs(feed)
    mixed = datasets.mixup(data, batch_size=BATCH, seed=seed, alpha=self.ALPHA, num_classes=16)
    return first, mixed

  def read_epoch(self, first_ds, mixed_ds):
    """(first index, partner index or -1, λ or nan, batch number) per example."""
    a = np.concatenate([np.rint(x.numpy().reshape(-1)) for x, _ in first_ds]).astype(np.int64)
    xs, ys, batch_of = [], [], []
    for step, (x, y) in enumerate(mixed_ds):
      xs.append(np.asarray(x).reshape(-1).astype(np.float64))
      ys.append(np.asarray(y))
      batch_of.append(np.full(len(x), step))
    x, y, batch_of = np.concatenate(xs), np.concatenate(ys), np.concatenate(batch_of)
    lam_at_first = y[np.arange(len(a)), a % 16]
    differ = lam_at_first < 1.0  # the partner's class differs from the first's
    lam = np.where(differ, lam_at_first, np.nan)
    partner = np.full(len(a), -1)
    usable = differ & (lam < 0.95)  # else b = (x - λa)/(1 - λ) is imprecise
    partner[usable] = np.rint((x[usable] - lam[usable] * a[usable]) / (1 - lam[usable]))
    # Cross-check: the partner's class carries the weight 1 - λ.
    self.assertAllClose(y[usable, partner[usable] % 16], 1 - lam[usable], atol=1e-5)
    self_pairs = int(np.sum((x == a) & (y.max(axis=1) == 1.0)))
    return a, partner, lam, batch_of, self_pairs

  @parameterized.named_parameters(("arrays", False), ("dataset", True), ("device", "device"))
  @pytest.mark.stats
  def test_partners_independent_and_lambda_fresh(self, as_dataset):
    first_ds, mixed_ds = self.stream(as_dataset, seed=11)
    epochs = [self.read_epoch(first_ds, mixed_ds) for _ in range(2)]
    partner_of = []
    for a, partner, lam, batch_of, self_pairs in epochs:
      self.assertLessEqual(self_pairs, 10)
      known = partner >= 0
      self.assertGreater(known.mean(), 0.8)
      self.assertLess(abs(np.corrcoef(a[known], partner[known])[0, 1]), 5 / np.sqrt(known.sum()))
      self.assertBetween(same_eighth(a[known], partner[known], self.SIZE), 0.115, 0.135)
      by_first = np.full(self.SIZE, -1)
      by_first[a] = partner
      partner_of.append(by_first)
      # λ ~ Beta(α, α) over the epoch (where the classes differ, which does
      # not depend on λ).
      seen = lam[~np.isnan(lam)]
      reference = np.random.default_rng(0).beta(self.ALPHA, self.ALPHA, 50_000).astype(np.float32)
      self.assertGreater(stats.ks_2samp(seen, reference).pvalue, 1e-3)
      # A new λ for every batch: the same position in two batches of one
      # epoch holds equal λ with probability ~0 for a continuous draw.
      per_batch = [lam[batch_of == s][:BATCH] for s in range(int(batch_of.max()))]
      for s in range(1, len(per_batch)):
        both = ~np.isnan(per_batch[0]) & ~np.isnan(per_batch[s])
        self.assertLess(np.mean(per_batch[0][both] == per_batch[s][both]), 0.01)
    both = (partner_of[0] >= 0) & (partner_of[1] >= 0)
    self.assertLessEqual(int(np.sum(partner_of[0][both] == partner_of[1][both])), 10)
    lam0, lam1 = epochs[0][2], epochs[1][2]
    both = ~np.isnan(lam0) & ~np.isnan(lam1)
    self.assertLess(np.mean(lam0[both] == lam1[both]), 0.01)


class SeedTest(tf.test.TestCase, parameterized.TestCase):
  def test_first_pass_is_the_shuffled_order_of_batches(self):
    # Methods compared at one seed see the same order of first examples.
    data = identity_data(1000, as_dataset=False)
    first, _ = first_and_partner(pair_stage(1000, as_dataset=False, seed=4))
    plain = np.concatenate(
      [np.rint(x.numpy().reshape(-1)) for x, _ in datasets.batches(data, batch_size=BATCH, seed=4)]
    )
    self.assertAllEqual(first, plain)

  def test_negative_and_extreme_seeds(self):
    self.check_negative_and_extreme_seeds(False)

  @pytest.mark.slow
  def test_negative_and_extreme_seeds_dataset_and_device(self):
    # (Every path takes its seed from the same `seeds` derivation: the arrays' case runs in the fast tier.)
    for as_dataset in (True, "device"):
      with self.subTest(as_dataset=as_dataset):
        self.check_negative_and_extreme_seeds(as_dataset)

  def check_negative_and_extreme_seeds(self, as_dataset):
    orders = {}
    for seed in (-1, -(2**63), 2**63 - 1, 0):
      orders[seed] = first_and_partner(pair_stage(2000, as_dataset, seed=seed))[0]
      self.assertAllEqual(np.sort(orders[seed]), np.arange(2000))
    self.assertNotAllEqual(orders[-1], orders[0])
    self.assertNotAllEqual(orders[2**63 - 1], orders[-(2**63)])

  @parameterized.named_parameters(
    ("too_large", 2**63, r"seed must be an integer in \[-2\*\*63, 2\*\*63\)"),
    ("too_small", -(2**63) - 1, r"seed must be an integer in \[-2\*\*63, 2\*\*63\)"),
    ("float", 1.5, "seed must be an integer"),
    ("text", "7", "seed must be an integer"),
    ("bool", True, "seed must be an integer"),
  )
  def test_bad_seed(self, seed, message):
    for as_dataset in (False, True):
      with self.assertRaisesRegex(datasets.DataError, message):
        datasets.mixup(identity_data(10, as_dataset), batch_size=2, seed=seed)

  @parameterized.named_parameters(("arrays", False), ("dataset", True), ("device", "device"))
  def test_seed_none_mixes_from_a_fresh_seed(self, as_dataset):
    # Never silently unmixed: every example gets a partner, and two stages
    # built with seed=None differ.
    runs = [first_and_partner(pair_stage_none(as_dataset)) for _ in range(2)]
    for first, partner in runs:
      self.assertLess(np.mean(first == partner), 0.01)
      self.assertNotAllEqual(first, np.arange(2000))
    self.assertNotAllEqual(runs[0][0], runs[1][0])
    index = np.arange(2000)
    data = (index.astype(np.float32).reshape(-1, 1, 1, 1), index % 4)
    if as_dataset is True:
      data = tf.data.Dataset.from_tensor_slices(data)
    if as_dataset == "device":
      _, y = next(iter(DeviceEpochs(datasets.device_mixup(data, batch_size=2000, seed=None, num_classes=4))))
    else:
      _, y = next(iter(datasets.mixup(data, batch_size=2000, seed=None, num_classes=4)))
    self.assertGreater(np.mean(np.asarray(y).max(axis=1) < 1.0), 0.5)  # labels are mixed


def pair_stage_none(as_dataset: bool | str):
  return pair_stage(2000, as_dataset, seed=None)


class KerasEpochTest(tf.test.TestCase):
  def test_fit_runs_one_iteration_per_epoch(self):
    # Epoch e of training is iteration e of the stage: after fitting 3
    # epochs, the stage's next pass equals the 4th pass of a fresh build.
    import keras  # noqa: PLC0415

    data = identity_data(600, as_dataset=False)
    trained = datasets.pair_sampling(data, batch_size=100, seed=5)
    model = keras.Sequential([keras.Input((1, 1, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(trained, epochs=3, verbose=0)
    fresh = datasets.pair_sampling(data, batch_size=100, seed=5)
    passes = [first_and_partner(fresh) for _ in range(4)]
    after = first_and_partner(trained)
    self.assertAllEqual(after[0], passes[3][0])
    self.assertAllEqual(after[1], passes[3][1])
    self.assertNotAllEqual(passes[2][0], passes[3][0])
