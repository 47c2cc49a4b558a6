"""The derivation of every random stream (seeds.py): children that differ in every word, the epoch counter."""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from tfmixup.datasets import draws, seeds


class DeriveTest(tf.test.TestCase):
  def test_children_differ_in_every_word(self):
    # stateless_fold_in alone gives [h, 0] and [h, 1]: one word shared. That
    # made tfmixup 0.1.0's two passes nearly the same permutation.
    parent = tf.constant([5, 6], tf.int64)
    children = np.stack([seeds.derive(parent, d).numpy() for d in range(200)])
    for word in (0, 1):
      self.assertLen(np.unique(children[:, word]), 200)
    # No word of a child repeats a word of another child or the parent.
    self.assertLen(np.unique(np.concatenate([children.ravel(), parent.numpy()])), 402)

  def test_deterministic_and_sensitive_to_every_input(self):
    a = seeds.derive(tf.constant([1, 2], tf.int64), 3, 4)
    self.assertAllEqual(a, seeds.derive(tf.constant([1, 2], tf.int64), 3, 4))
    for other in (
      seeds.derive(tf.constant([1, 3], tf.int64), 3, 4),
      seeds.derive(tf.constant([2, 2], tf.int64), 3, 4),
      seeds.derive(tf.constant([1, 2], tf.int64), 4, 3),
    ):
      self.assertTrue(np.all(a.numpy() != other.numpy()))

  def test_split_rows_are_distinct_in_every_word(self):
    rows = seeds.split(tf.constant([7, 8], tf.int64), 1000).numpy()
    self.assertEqual(rows.shape, (1000, 2))
    self.assertLen(np.unique(rows), 2000)

  def test_roots_of_nearby_and_negative_seeds_differ(self):
    roots = np.stack([seeds.root(s).numpy() for s in (-2, -1, 0, 1, 2, 2**63 - 1, -(2**63))])
    self.assertLen(np.unique(roots), roots.size)


@pytest.mark.stats
class PermutationTest(tf.test.TestCase):
  def test_permutations_of_related_seeds_are_unrelated(self):
    # The whole chain as the stages use it, for adjacent user seeds and
    # epochs, at the size where index_shuffle failed (60k: correlations up to
    # 0.82, same-eighth share up to 0.55). Independent: |corr| ~ 0.004.
    size = 60_000
    perms = []
    for seed in (0, 1):
      for epoch in (0, 1):
        epoch_seed = seeds.epoch_seed(seeds.root(seed), tf.constant(epoch, tf.int64))
        for which in (seeds.Stream.PASS_A, seeds.Stream.PASS_B):
          perms.append(draws.permutation(size, seeds.stream(epoch_seed, which)).numpy())
    for p in perms:
      self.assertAllEqual(np.sort(p), np.arange(size))
    for i in range(len(perms)):
      for j in range(i + 1, len(perms)):
        self.assertLess(abs(np.corrcoef(perms[i], perms[j])[0, 1]), 0.02)
        self.assertBetween(np.mean(perms[i] * 8 // size == perms[j] * 8 // size), 0.115, 0.135)

  def test_positions_are_uniform(self):
    # Where index 0 lands, over 2,000 seeds: uniform over 20 bins (χ² bound
    # at p = 0.001 with 19 degrees of freedom is 43.8).
    base = tf.constant([1, 1], tf.int64)
    landing = [int(np.argmax(draws.permutation(100, seeds.derive(base, s)).numpy() == 0)) for s in range(2000)]
    counts = np.bincount(np.array(landing) // 5, minlength=20)
    chi2 = np.sum((counts - 100) ** 2 / 100)
    self.assertLess(chi2, 43.8)


class CheckSeedTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("zero", 0), ("negative", -5), ("largest", 2**63 - 1), ("smallest", -(2**63)), ("numpy", np.int32(4))
  )
  def test_accepts_int64_integers(self, seed):
    self.assertEqual(seeds.check_seed(seed), int(seed))

  @parameterized.named_parameters(("too_large", 2**63), ("float", 1.0), ("text", "1"), ("bool", False), ("none", None))
  def test_rejects(self, seed):
    with self.assertRaisesRegex(ValueError, "seed must be an integer"):
      seeds.check_seed(seed)

  def test_fresh_seeds_differ(self):
    self.assertLen({seeds.fresh_seed() for _ in range(20)}, 20)


class EpochCounterTest(tf.test.TestCase):
  def test_numbers_iterations(self):
    counter = seeds.EpochCounter()
    ds = counter.dataset()
    self.assertEqual([int(next(iter(ds))) for _ in range(3)], [0, 1, 2])
    self.assertEqual(counter.next_epoch, 3)
