"""The stateless λ draw against numpy's Beta, and the seeded permutations (statistics in test_seeds.py)."""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from scipy import stats

from tfmixup.datasets import draws, sample_beta

SEED = tf.constant([12, 34], tf.int64)


class SampleBetaTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(("uniform", 1.0), ("small", 0.2), ("large", 4.0), ("tiny", 0.05))
  @pytest.mark.stats
  def test_matches_numpy_beta(self, alpha):
    # Two-sample KS test, 50k draws each, fixed seeds. At this size the test
    # rejects Uniform(0,1) for α=0.2 or 4 and Beta(α,α) for any α off by 10%
    # (see test_detects_wrong_alpha); p > 0.001 for the right distribution.
    ours = sample_beta([50_000], alpha, SEED).numpy()
    # λ is float32: round the float64 reference the same way (for α=0.05
    # about a fifth of the mass lies within float32's last step below 1).
    reference = np.random.default_rng(0).beta(alpha, alpha, 50_000).astype(np.float32)
    self.assertFalse(np.isnan(ours).any())
    self.assertGreater(stats.ks_2samp(ours, reference).pvalue, 1e-3)
    self.assertAllInRange(ours, 0.0, 1.0)

  @pytest.mark.stats
  def test_detects_wrong_alpha(self):
    # The statistical test above has power: a sampler with α off by 10%, or
    # a Uniform sampler (the Model Garden bug), fails it.
    ours = sample_beta([50_000], 1.1, SEED).numpy()
    reference = np.random.default_rng(0).beta(1.0, 1.0, 50_000)
    self.assertLess(stats.ks_2samp(ours, reference).pvalue, 1e-3)
    uniform = np.random.default_rng(1).random(50_000)
    self.assertLess(stats.ks_2samp(uniform, np.random.default_rng(0).beta(0.2, 0.2, 50_000)).pvalue, 1e-3)

  def test_never_nan_for_small_alpha(self):
    # The G1/(G1+G2) ratio gives 0/0 here (about 3 in 100k at α=0.05, nearly
    # always at α=0.001).
    for alpha in (0.05, 0.01, 0.001, 1e-6):
      lam = sample_beta([100_000], alpha, SEED).numpy()
      self.assertFalse(np.isnan(lam).any(), msg=f"alpha={alpha}")
      self.assertAllInRange(lam, 0.0, 1.0)
    # Beta(α,α) with small α puts half its mass near 0 and half near 1.
    lam = sample_beta([100_000], 0.001, SEED).numpy()
    self.assertBetween(np.mean(lam > 0.5), 0.49, 0.51)
    self.assertGreater(np.mean((lam < 1e-3) | (lam > 1 - 1e-3)), 0.99)

  def test_stateless(self):
    self.assertAllEqual(sample_beta([5], 1.0, SEED), sample_beta([5], 1.0, SEED))
    self.assertNotAllEqual(sample_beta([5], 1.0, SEED), sample_beta([5], 1.0, SEED + 1))


class PermutationTest(tf.test.TestCase):
  def test_is_a_permutation_picked_by_the_seed(self):
    one = draws.permutation(103, SEED).numpy()
    self.assertAllEqual(np.sort(one), np.arange(103))
    self.assertNotAllEqual(one, np.arange(103))
    self.assertAllEqual(one, draws.permutation(103, SEED))
    self.assertNotAllEqual(one, draws.permutation(103, SEED + 1))
