"""The confirmatory round: its statistics (`study/statistics.py`), its plan of runs and its report on fabricated runs.

Faults caught: Holm applied as Bonferroni or not at all, not monotone, or
out of order; p-values that disagree with scipy's t tests; a bootstrap that
resamples only seeds (too narrow when the test set is small); a family that
reads the wrong class's error or the wrong arms, or Holm over the planned
rather than the available tests; a significant effect in the wrong
direction read as support; missing runs reported as results.
"""

import json
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfmixup import training
from tfmixup.config import TrainConfig
from tfmixup.study import confirm, confirm_report, regimes, round2_report, statistics, study_like, study_like_report


class StatisticsTest(tf.test.TestCase):
  def test_t_interval_p_is_scipys_one_sample_t_test(self):
    values = np.random.default_rng(0).normal(0.3, 1.0, 12)
    result = statistics.t_interval(values)
    self.assertAllClose(result["p"], stats.ttest_1samp(values, 0.0).pvalue, rtol=1e-10)
    self.assertLess(result["low"], result["mean"])
    self.assertAllClose((result["low"] + result["high"]) / 2, values.mean())

  def test_welch_p_is_scipys_unequal_variance_t_test(self):
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 15), rng.normal(0.5, 2, 5)
    self.assertAllClose(statistics.welch(a, b)["p"], stats.ttest_ind(a, b, equal_var=False).pvalue, rtol=1e-10)

  def test_holm_step_down(self):
    # Sorted p 0.01, 0.02, 0.04, 0.3 → ×4, ×3, ×2, ×1 = 0.04, 0.06, 0.08, 0.3 (monotone), in input order.
    self.assertAllClose(statistics.holm([0.04, 0.3, 0.01, 0.02]), [0.08, 0.3, 0.04, 0.06])
    # Monotonicity: a smaller raw p never gets a larger adjusted p; capped at 1.
    self.assertAllClose(statistics.holm([0.02, 0.021, 0.9]), [0.06, 0.06, 0.9])
    self.assertAllClose(statistics.holm([0.6, 0.5]), [1.0, 1.0])

  @pytest.mark.stats
  def test_two_way_bootstrap_covers_test_image_sampling(self):
    # 15 seeds that agree exactly (no seed variance) on 200 test images with a true +5% difference
    # per image: resampling only seeds would give a zero-width interval; resampling the images too
    # gives about ±3 pp (binomial: 1.96·sqrt(0.05·0.95/200) ≈ 0.030).
    per_image = np.zeros(200)
    per_image[:10] = 1.0
    diff = np.tile(per_image, (15, 1))
    result = statistics.two_way_bootstrap(diff, resamples=4000)
    self.assertAllClose(result["mean"], 0.05)
    self.assertBetween(result["high"] - result["low"], 0.045, 0.075)

  def test_class_error_by_original_label(self):
    result = {"class_names": ["6", "8", "9"], "test_confusion": [[9, 1, 0], [2, 6, 2], [0, 0, 10]]}
    self.assertAllClose(statistics.class_errors(result), [0.1, 0.4, 0.0])
    self.assertAllClose(statistics.class_error(result, 8), 0.4)


def _fabricate(root: str, job, third_errors: dict[int, int], accuracy: float) -> None:
  """A run JSON for `job`: 100 test images per class, `third_errors[label]` of them wrong."""
  config = job.config
  names = [str(c) for c in (config.classes or range(10))]
  confusion = []
  for k, name in enumerate(names):
    wrong = third_errors.get(int(name), 0)
    row = [0] * len(names)
    row[k] = 100 - wrong
    row[(k + 1) % len(names)] = wrong
    confusion.append(row)
  result = {
    "config": config.to_dict(),
    "class_names": names,
    "train_examples": 1000,
    "test_examples": 100 * len(names),
    "train_accuracy": accuracy,
    "test_accuracy": accuracy,
    "test_confusion": confusion,
    "versions": {"tfmixup": "0.5.0"},
  }
  path = training.result_path(job.output_dir(root), config)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    json.dump(result, f)


class ConfirmReportTest(tf.test.TestCase):
  """The families on fabricated runs of the ci round: Mixup adds 10 + seed errors to {6,8,9}'s 8s."""

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.plan = confirm.ROUNDS["ci"]
    self.base = TrainConfig(data_dir="unused")
    plan, base = self.plan, self.base
    for _, jobs in confirm.phases(plan, base, self.root):
      for job in jobs:
        c = job.config
        seed = c.seed
        errors = {}
        if c.classes == (6, 8, 9) and c.method == "mixup" and not c.exclude_pairs and job.regime == "raw":
          errors = {8: 10 + seed % 7}
        elif c.classes == (6, 8, 9) and c.exclude_pairs == ((6, 8),):
          errors = {8: 4 + seed % 3}
        # Accuracy: seed-dependent and the same across arms but for Mixup on {6,8,9} (-1 pp, -1.1 pp).
        accuracy = 0.98 + 0.001 * (seed % 5)
        if c.classes == (6, 8, 9) and c.method == "mixup" and not c.exclude_pairs:
          accuracy -= 0.01 + 0.001 * (seed % 2)
        _fabricate(self.root, job, errors, accuracy)

  def test_families_pair_by_seed_and_read_the_third_class(self):
    runs = confirm_report.ConfirmRuns(self.plan, self.base, self.root, full=None)
    fams = confirm_report.families(runs)
    f2 = {t.label: t for t in fams["F2"]}
    t = f2["{6,8,9}: Mixup − ERM, class-8 error"]
    # Seeds 100, 101: +0.12 and +0.13 (10 + seed % 7 of 100 8s).
    self.assertAllClose(t.result["mean"], np.mean([0.12, 0.13]))
    self.assertEqual(t.result["n"], 2)
    self.assertGreaterEqual(t.adjusted, t.result["p"])
    other = f2["{1,4,7}: Mixup − ERM, class-7 error"]
    self.assertAllClose(other.result["mean"], 0.0)
    f1 = {t.label: t for t in fams["F1"]}
    self.assertAllClose(f1["{6,8,9}: Mixup − ERM, accuracy"].result["mean"], -0.0105)
    # F4 in {6,8,9}: without 6+9 (no extra errors) − without 6+8 (4 + seed % 3 = 5, 6 of 100): -0.055.
    f4 = {t.label: t for t in fams["F4"]}
    self.assertAllClose(f4["{6,8,9}: without 6+9 − without 6+8, class-8 error"].result["mean"], -0.055)
    self.assertEmpty(runs.missing)

  def test_verdicts(self):
    supports = confirm_report.Test("F", "x", +1, {"mean": 0.1, "low": 0.05, "high": 0.15, "p": 0.001}, adjusted=0.004)
    self.assertEqual(supports.verdict(), "as predicted")
    against = confirm_report.Test("F", "x", -1, {"mean": 0.1, "low": 0.05, "high": 0.15, "p": 0.001}, adjusted=0.004)
    self.assertEqual(against.verdict(), "opposite to the prediction")
    null = confirm_report.Test("F", "x", -1, {"mean": 0.01, "low": -0.02, "high": 0.04, "p": 0.4}, adjusted=0.8)
    self.assertEqual(null.verdict(), "inconclusive: excludes effects outside [-2.00, +4.00] pp")
    self.assertEqual(confirm_report.Test("F", "x", 1, None).verdict(), "not run")

  def test_missing_runs_are_reported_not_computed(self):
    job = confirm.cell(self.plan, self.base, self.root, classes=(1, 4, 7), method="mixup", seeds=(101,))[0]
    os.remove(training.result_path(job.output_dir(self.root), job.config))
    runs = confirm_report.ConfirmRuns(self.plan, self.base, self.root, full=None)
    fams = confirm_report.families(runs)
    f1 = {t.label: t for t in fams["F1"]}
    self.assertIsNone(f1["{1,4,7}: Mixup − ERM, accuracy"].result)
    self.assertIn(f"raw/{job.config.run_name}", runs.missing)
    # Holm over the three tests left: the adjusted p of the smallest is at most 3× its raw p.
    done = [t for t in fams["F1"] if t.result is not None]
    self.assertLen(done, 3)
    smallest = min(done, key=lambda t: t.result["p"])
    self.assertAllClose(smallest.adjusted, min(1.0, 3 * smallest.result["p"]))


class ConfirmPlanTest(tf.test.TestCase):
  def test_phases_follow_the_plan(self):
    plan = confirm.ROUNDS["full"]
    phases = dict(confirm.phases(plan, TrainConfig(data_dir="d"), "root"))
    first = phases["{6,8,9}: ERM, Mixup, dropped, control"]
    self.assertLen(first, 4 * 15)
    self.assertTrue(all(j.config.seed >= 100 for j in first))  # fresh seeds only
    self.assertTrue(all(j.config.input_scale == 255 and j.config.epochs == 1 for j in first))
    teachers = phases["teachers"]
    self.assertTrue(all(j.save_model and j.config.seed == confirm.TEACHER_SEED for j in teachers))
    filtered = [j for j in first if j.config.method == "mixup_filtered"]
    self.assertTrue(all("seed2000" in j.config.teacher for j in filtered))
    pairs = phases["pair exclusion"]
    self.assertEqual({j.config.exclude_pairs for j in pairs if j.config.classes == (6, 8, 9)}, {((6, 9),), ((6, 8),)})
    seeds = sorted({j.config.seed for phase in phases.values() for j in phase if j.config.seed != confirm.TEACHER_SEED})
    self.assertEqual(seeds, list(range(100, 115)))


class Round2PlanTest(tf.test.TestCase):
  """Round 2's job list (PLAN.md, "Round 2"): fresh seeds, the three arms, this regime's pairs, ERM last."""

  def setUp(self):
    super().setUp()
    self.phases = confirm.phases2(confirm.ROUNDS2["full"], TrainConfig(data_dir="d"))

  def test_seeds_are_fresh_and_as_planned(self):
    jobs = [j for _, phase in self.phases for j in phase]
    round_1 = confirm.ROUNDS["full"]
    used = {*range(5), *round_1.seeds, *round_1.filter_seeds, *round_1.pair_seeds, *round_1.mnist_seeds}
    used |= {confirm.TEACHER_SEED, 1000}
    self.assertEmpty({j.config.seed for j in jobs} & used)
    by_subset = {}
    for j in jobs:
      if j.config.method == "mixup":
        by_subset.setdefault(j.config.subset, set()).add(j.config.seed)
    self.assertEqual(by_subset["689"], set(range(200, 215)))
    self.assertEqual(by_subset["147"], set(range(200, 210)))
    self.assertEqual(by_subset["367"], set(range(200, 210)))

  def test_arms_pairs_and_regime(self):
    names = [name for name, _ in self.phases]
    self.assertLen(names, 3)
    first, second, erm = (phase for _, phase in self.phases)
    self.assertLen(first, 3 * 15)
    self.assertLen(second, 2 * 3 * 10)
    self.assertLen(erm, 3 * 10)
    self.assertEqual({j.config.method for j in first + second}, {"mixup"})
    self.assertEqual({j.config.method for j in erm}, {"erm"})
    self.assertIn("exploratory", names[2])  # ERM last: an interrupted round keeps the confirmatory arms
    # This regime's targets (PLAN.md): {1,4,7}'s top pair is 1 + 7 (third class 4), not raw's 1 + 4.
    expected = {"689": ((6, 9), 8, (6, 8)), "147": ((1, 7), 4, (1, 4)), "367": ((6, 7), 3, (3, 6))}
    plan, base = confirm.ROUNDS2["full"], TrainConfig(data_dir="d")
    for subset, (top, third, control) in expected.items():
      arms = {j.config.exclude_pairs for j in first + second if j.config.subset == subset}
      self.assertEqual(arms, {(), (top,), (control,)}, subset)
      self.assertEqual(confirm.ROUND2_TARGETS[subset].third, third)
      for arm, pairs in (("pair_excluded", (top,)), ("matched_excluded", (control,)), ("mixup", ())):
        self.assertEqual(
          {j.config.exclude_pairs for j in confirm.round2_cell(plan, base, subset, arm, (200,))}, {pairs}
        )
    self.assertEqual({j.config.subset for j in first}, {"689"})
    for j in first + second + erm:
      self.assertEqual((j.regime, j.config.epochs, j.config.input_scale, j.config.alpha), ("e1", 1, 1.0, 1.0))
    # No run of round 2 is one of round 1's (a different seed or arm every time).
    round_1 = {
      j.config.run_name for _, p in confirm.phases(confirm.ROUNDS["full"], TrainConfig(data_dir="d"), "r") for j in p
    }
    self.assertEmpty({j.config.run_name for j in first + second + erm} & round_1)


class NullsTableTest(tf.test.TestCase):
  """What a null excludes and the MDE it reached, next to the planned MDE."""

  def test_bound_in_the_predicted_direction_and_mde_at_alpha_over_m(self):
    values = np.array([0.001, -0.002, 0.003, 0.0, 0.002, -0.001, 0.001, 0.002, -0.003, 0.001])
    result = statistics.t_interval(values)
    test = confirm_report.Test("F4", "x", +1, result, key=("689", "accuracy"))
    others = [confirm_report.Test("F4", f"y{i}", -1, dict(result, p=0.5), key=("147", "error")) for i in range(5)]
    confirm_report.finish_family([test, *others])
    self.assertTrue(test.is_null())
    self.assertEqual(test.m, 6)
    self.assertEqual(test.planned, (0.53, 0.39))  # PLAN.md's F4 {6,8,9} accuracy row
    self.assertEqual(test.excludes(), f"> {100 * result['high']:+.2f}")  # predicted > 0: the upper bound
    self.assertEqual(others[0].excludes(), f"< {100 * result['low']:+.2f}")
    se = values.std(ddof=1) / np.sqrt(10)
    strict = (stats.t.ppf(1 - 0.05 / 12, 9) + stats.t.ppf(0.8, 9)) * se
    loose = (stats.t.ppf(0.975, 9) + stats.t.ppf(0.8, 9)) * se
    self.assertAllClose(test.observed_mde(), (100 * strict, 100 * loose))
    lines = "\n".join(confirm_report.nulls_table([test, *others]))
    self.assertIn(
      f"| x | > {100 * result['high']:+.2f} | {100 * se:.2f} | {100 * strict:.2f} / {100 * loose:.2f}", lines
    )
    self.assertIn("| 0.53 / 0.39 |", lines)
    self.assertIn("α/6", lines)

  def test_significant_tests_are_not_nulls(self):
    hit = confirm_report.Test(
      "F1", "x", -1, {"mean": -0.01, "low": -0.02, "high": -0.005, "p": 1e-4, "se": 0.002, "df": 9}
    )
    confirm_report.finish_family([hit])
    self.assertFalse(hit.is_null())
    self.assertEqual(confirm_report.nulls_table([hit]), [])

  def test_planned_mdes_are_plan_md_s(self):
    # Every MDE row of PLAN.md's tables (round 1 and round 2) is in PLANNED_MDE with the same values.
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "science", "PLAN.md")
    with open(path) as f:
      rows = [line.split("|")[1:-1] for line in f if line.startswith("| F")]
    found = {}
    for name, test, _, _, strict, loose, _ in ([c.strip() for c in row] for row in rows):
      family = name.split()[0]
      endpoint = "accuracy" if "accuracy" in test else "error"
      if family == "F5":
        subsets = ["698"]
      elif family == "F6":
        subsets = ["689", "147"]
      else:
        subsets = [test.split(":")[0]]
      for subset in subsets:
        found[(family, subset, endpoint)] = (float(strict), float(loose))
    self.assertLen(found, 37)  # 25 rows of round 1 (F6 counted twice), 12 of round 2
    self.assertEqual(found, confirm_report.PLANNED_MDE)


class Round2ReportTest(tf.test.TestCase):
  """Round 2's families on fabricated runs of its ci size: excluding the top pair removes the third class's excess."""

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.plan = confirm.ROUNDS2["ci"]
    self.base = TrainConfig(data_dir="unused")
    phases = confirm.phases2(self.plan, self.base)
    for _, jobs in phases[:2]:  # no ERM: the exploratory phase is missing
      for job in jobs:
        c = job.config
        target = confirm.ROUND2_TARGETS[c.subset]
        # Mixup: 6 + seed % 3 errors on the third class; without the top pair: 2; without the control pair: 8.
        errors = {(): 6 + c.seed % 3, (target.pair,): 2, (target.control,): 8}[c.exclude_pairs]
        accuracy = 0.98 - 0.0005 * errors + 0.001 * (c.seed % 5)
        _fabricate(self.root, job, {target.third: errors}, accuracy)

  def test_families_read_this_regimes_third_class(self):
    runs = round2_report.Round2Runs(self.plan, self.base, self.root, full=None)
    fams = round2_report.families(runs)
    self.assertEqual(set(fams), {"F7", "F8"})
    f7 = {t.label: t for t in fams["F7"]}
    self.assertAllClose(f7["{6,8,9}: without 6+9 − without 6+8, class-8 error"].result["mean"], -0.06)
    # {1,4,7}: the 1-epoch judge's 1 + 7, third class 4 (not raw's 1 + 4 and 7).
    t = f7["{1,4,7}: without 1+7 − without 1+4, class-4 error"]
    self.assertAllClose(t.result["mean"], -0.06)
    self.assertEqual(t.planned, (1.51, 1.12))
    self.assertAllClose(f7["{1,4,7}: without 1+7 − without 1+4, accuracy"].result["mean"], 0.003)
    f8 = {t.label: t for t in fams["F8"]}
    # Seeds 200, 201: Mixup has 6 + 2 = 8 and 6 + 0 = 6 errors; without 6+9, 2: -0.06, -0.04.
    self.assertAllClose(f8["{6,8,9}: without 6+9 − Mixup, class-8 error"].result["mean"], -0.05)
    self.assertEqual({t.m for t in fams["F8"]}, {6})
    self.assertEmpty(runs.missing)  # F7 and F8 need no ERM

  def test_missing_erm_is_reported_not_computed(self):
    runs = round2_report.Round2Runs(self.plan, self.base, self.root, full=None)
    rows, _ = round2_report.class_rows(runs)
    self.assertIn(("{6,8,9} Mixup − ERM", ["not run"]), rows)
    self.assertTrue(any(name.startswith("e1/mnist-689-erm") for name in runs.missing))


class StudyLikeRoundTest(tf.test.TestCase):
  """Round 3's jobs (PLAN.md, "Round 3"): the study's datasets, each in its study-like regime, the planned seeds."""

  def test_settings_regimes_and_seeds(self):
    phases = study_like.phases3(study_like.ROUNDS3["full"], TrainConfig(data_dir="d"))
    jobs = [j for _, phase in phases for j in phase]
    self.assertLen(jobs, 2 * 2 * (2 * 10 + 5))  # settings x methods x (two subsets' 10 seeds + MNIST's 5)
    expected = {  # (inputs, dataset) -> (regime, input_scale, sorted_buffer)
      (1.0, None): ("e1", None),
      (255.0, None): ("raw", None),
      (1.0, (6, 8, 9)): ("sorted", 5000),
      (255.0, (6, 8, 9)): ("sorted_raw", 5000),
      (1.0, (1, 4, 7)): ("sorted", 5000),
      (255.0, (1, 4, 7)): ("sorted_raw", 5000),
    }
    seen = {}
    for j in jobs:
      c = j.config
      self.assertEqual((c.epochs, c.alpha, c.fraction, c.train_per_class), (1, 1.0, 1.0, None))
      self.assertIn(c.method, ("erm", "mixup"))
      self.assertEqual(expected[(c.input_scale, c.classes)], (j.regime, c.sorted_buffer), c.run_name)
      seen.setdefault((c.input_scale, c.classes, c.method), set()).add(c.seed)
    self.assertLen(seen, 12)
    for (_, classes, _), seeds in seen.items():
      self.assertEqual(seeds, set(range(5)) if classes is None else set(range(10)))
    # The new regime is its two parents' changes, and not a sweep regime (so the grid's choices stay as they were).
    self.assertEqual(regimes.REGIMES["sorted_raw"].changes, {**regimes.REGIMES["sorted"].changes, **RAW})
    self.assertNotIn("sorted_raw", regimes.PRESETS["session"].regimes())
    for regime, names in regimes.PRESETS["full"].sweep:  # class-sorted full MNIST: left out (44%, meaningless)
      self.assertFalse("sorted_buffer" in regimes.REGIMES[regime].changes and "all" in names, regime)


RAW = regimes.REGIMES["raw"].changes


class StudyLikeReportTest(tf.test.TestCase):
  """Round 3's tables on fabricated runs of its ci size: Mixup costs {6,8,9} 2 pp (on its 8s), MNIST 0.5 pp."""

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.plan = study_like.ROUNDS3["ci"]
    self.base = TrainConfig(data_dir="unused")
    for _, jobs in study_like.phases3(self.plan, self.base):
      for job in jobs:
        c = job.config
        accuracy, errors = 0.96 + 0.01 * c.seed, {}  # seed-to-seed spread that only pairing removes
        if c.method == "mixup" and c.classes == (6, 8, 9):
          accuracy -= 0.02 + 0.001 * c.seed  # seeds 0, 1: -2.0, -2.1 pp
          errors = {8: 6 + 3 * c.seed}  # seeds 0, 1: +6, +9 of the 100 8s
        elif c.method == "mixup" and c.classes is None:
          accuracy -= 0.005 - 0.001 * c.seed  # seeds 0, 1: -0.5, -0.4 pp
        _fabricate(self.root, job, errors, accuracy)

  def test_penalties_contrasts_and_classes(self):
    runs = study_like_report.StudyRuns(self.plan, self.base, self.root)
    rows = dict(study_like_report.penalty_rows(runs))
    mnist, s689, s147, c689, c147 = rows["[0, 1] inputs"]
    self.assertStartsWith(mnist, "-0.45 [")  # paired by seed: -0.5, -0.4
    self.assertStartsWith(s689, "-2.05 [")
    self.assertStartsWith(s147, "+0.00 [")
    self.assertStartsWith(c689, "-1.60 [")  # Welch: {6,8,9}'s -2.05 minus MNIST's -0.45
    self.assertStartsWith(c147, "+0.45 [")
    self.assertEndsWith(s689, "[-2.69, -1.41] (excludes the study's -2.8)")  # ±0.05 · t(1 df) = ±0.64
    self.assertEndsWith(mnist, "[-1.09, +0.19] (holds the study's -0.2)")
    self.assertEqual(rows["0-255 inputs"], rows["[0, 1] inputs"])  # the same fabricated numbers in both settings
    classes = dict(study_like_report.class_rows(runs))
    self.assertStartsWith(classes["[0, 1] inputs, {6,8,9} (third class 8)"][0], "6: +0.00 [")
    self.assertIn("; 8: +7.50 [", classes["[0, 1] inputs, {6,8,9} (third class 8)"][0])
    self.assertEmpty(runs.missing)

  def test_missing_runs_are_reported_not_computed(self):
    (job,) = study_like.cell(self.plan, self.base, study_like.SETTINGS[1], "147", "erm")[:1]
    os.remove(training.result_path(job.output_dir(self.root), job.config))
    text, missing = study_like_report.section(self.plan, self.base, self.root)
    self.assertEqual(missing, {f"sorted_raw/{job.config.run_name}"})
    rows = dict(study_like_report.penalty_rows(study_like_report.StudyRuns(self.plan, self.base, self.root)))
    self.assertEqual(rows["0-255 inputs"][2], "not run")  # {1,4,7}
    self.assertEqual(rows["0-255 inputs"][4], "not run")  # {1,4,7} − MNIST
    self.assertNotIn("not run", rows["[0, 1] inputs"])
    self.assertIn("**Incomplete: 1 round-3 runs are not saved**", text)
