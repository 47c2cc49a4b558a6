"""The science grid's choices (tfmixup/study/science.py) and the paired statistics its report uses (statistics.py)."""

import dataclasses
import json
import os
import tempfile

import numpy as np
import tensorflow as tf
from helpers import coded_arrays
from scipy import stats

from tfmixup import training
from tfmixup.config import TrainConfig
from tfmixup.study import regimes, science, statistics


def _runs(values, seeds=None, examples=1000):
  seeds = range(len(values)) if seeds is None else seeds
  return [
    {"config": {"seed": s}, "test_accuracy": v, "test_examples": examples} for s, v in zip(seeds, values, strict=True)
  ]


class StatisticsTest(tf.test.TestCase):
  def test_paired_interval_is_the_paired_t_test_inverted(self):
    # Shifting the treated runs by an interval bound makes the paired t test's p exactly 0.05:
    # an interval that ignores the pairing, or uses the wrong t quantile, fails.
    rng = np.random.default_rng(0)
    control = rng.normal(0.98, 0.003, 7)
    treated = control + rng.normal(-0.002, 0.001, 7)
    order = rng.permutation(7)  # runs are matched by seed, not by position
    got = statistics.paired(_runs(treated[order], seeds=order), _runs(control))
    self.assertAllClose(got["mean"], np.mean(treated - control), atol=1e-12)
    for bound in (got["low"], got["high"]):
      self.assertAllClose(stats.ttest_rel(treated - bound, control).pvalue, 0.05, atol=1e-9)
    self.assertEqual(got["n"], 7)

  def test_welch_interval_is_the_welch_test_inverted(self):
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 6), rng.normal(0.5, 3, 9)
    got = statistics.welch(a, b)
    self.assertAllClose(got["mean"], a.mean() - b.mean(), atol=1e-12)
    for bound in (got["low"], got["high"]):
      self.assertAllClose(stats.ttest_ind(a - bound, b, equal_var=False).pvalue, 0.05, atol=1e-9)

  def test_error_ratio_is_a_geometric_mean_with_a_log_scale_interval(self):
    control = _runs([0.99, 0.98, 0.97, 0.99])
    doubled = _runs([0.98, 0.96, 0.94, 0.98])  # every error exactly twice the control's
    got = statistics.error_ratio(doubled, control)
    self.assertAllClose([got["mean"], got["low"], got["high"]], [2.0, 2.0, 2.0], atol=1e-9)
    mixed = _runs([0.985, 0.95, 0.97, 0.99])
    want = np.exp(np.mean(np.log((1 - np.array([0.985, 0.95, 0.97, 0.99])) / (1 - np.array([0.99, 0.98, 0.97, 0.99])))))
    got = statistics.error_ratio(mixed, control)
    self.assertAllClose(got["mean"], want, rtol=1e-9)
    self.assertLess(got["low"], got["mean"])
    self.assertGreater(got["high"], got["mean"])
    perfect = statistics.error_ratio(_runs([0.999]), _runs([1.0]))  # no error: half an error of 1,000
    self.assertAllClose(perfect["mean"], 2.0, rtol=1e-9)


class ChoicesTest(tf.test.TestCase):
  def test_worst_and_swap_regimes_come_from_the_saved_runs(self):
    # A tiny preset over saved fake runs: e1 has penalty 1 pp and ERM 99%; raw has penalty 3 pp and
    # ERM 97.1% on {6,8,9}; a0.2 (ERM shared with e1) has penalty 2 pp.
    preset = regimes.Preset(
      name="t",
      seeds=(0, 1),
      sweep=(("e1", ("689", "147")), ("raw", ("689", "147")), ("a0.2", ("689", "147"))),
      standard="e1",
      causal_methods=(),
      causal_methods_worst=(),
      swap_seeds=(0, 1),
    )
    base = TrainConfig(data_dir="x")
    accuracy = {("e1", "erm"): 0.99, ("e1", "mixup"): 0.98, ("raw", "erm"): 0.971, ("raw", "mixup"): 0.941}
    accuracy[("a0.2", "mixup")] = 0.97
    with tempfile.TemporaryDirectory() as root:
      for job in science.sweep_jobs(preset, base):
        path = training.result_path(job.output_dir(root), job.config)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        value = accuracy[(job.regime, job.config.method)] + 0.001 * job.config.seed
        with open(path, "w") as f:
          json.dump({"config": job.config.to_dict(), "test_accuracy": value, "versions": {"tfmixup": "0.5.0"}}, f)
      chosen = science.choices(preset, base, root)
    self.assertEqual(chosen["worst"], "raw")
    self.assertAllClose(chosen["penalties"], {"e1": 0.01, "raw": 0.03, "a0.2": 0.02}, atol=1e-9)
    self.assertEqual(chosen["swap"], "raw")  # 97.15% is nearer 97% than 99.05%

  def test_causal_jobs_compare_with_the_regimes_erm_and_mixup(self):
    preset, base = regimes.PRESETS["session"], TrainConfig(data_dir="x")
    jobs = science.causal_jobs(preset, base, "out", worst="raw")
    teachers = [j for j in jobs if j.save_model]
    self.assertEqual({j.config.seed for j in teachers}, {regimes.TEACHER_SEED})
    self.assertEqual(
      {(j.regime, j.config.subset) for j in teachers}, {(r, n) for r in ("e1", "raw") for n in regimes.SUBSETS}
    )
    filtered = [j for j in jobs if j.config.method == "mixup_filtered"]
    for job in filtered:  # the teacher is that regime's and subset's ERM teacher
      teacher = science.teacher_job(preset, job.regime, base, job.config.subset)
      self.assertEqual(job.config.teacher, training.model_path(teacher.output_dir("out"), teacher.config))
      self.assertEqual(
        dataclasses.replace(job.config, method="erm", seed=regimes.TEACHER_SEED, teacher="nn"), teacher.config
      )
    raw_methods = {j.config.method for j in jobs if j.regime == "raw" and not j.save_model}
    self.assertEqual(raw_methods, {"erm", "mixup", *regimes.FILTER_METHODS, *regimes.ADA_METHODS})
    self.assertEqual(
      {j.config.method for j in jobs if j.regime == "e1" and not j.save_model}, {"erm", "mixup", *preset.causal_methods}
    )


class IntrusionCacheTest(tf.test.TestCase):
  """The report reads intrusion measurements from `intrusion.json` without the teachers' models (never committed).

  Fault caught: since the confirmatory round's commit, section 3 and the causal tables' "flagged" rows read
  "not run" everywhere because the model file was required before the cache was looked at.
  """

  def test_cached_measurements_need_no_model(self):
    from tfmixup.study import science_report  # noqa: PLC0415 - imports Keras

    preset = regimes.Preset(
      name="t",
      seeds=(0,),
      sweep=(("e1", ("689",)),),
      standard="e1",
      causal_methods=(),
      causal_methods_worst=(),
      swap_seeds=(0,),
    )
    base = TrainConfig(data_dir="x")
    full = training.SplitData(coded_arrays(40, num_classes=10), coded_arrays(20, num_classes=10))
    with tempfile.TemporaryDirectory() as root:
      runs = science_report.Runs(preset, base, root)
      teacher = science.teacher_job(preset, "e1", base, "689")
      path = training.model_path(teacher.output_dir(root), teacher.config)
      self.assertFalse(os.path.exists(path))
      pairs = [{"first": "6", "second": "9", "mixes": 12, "intruding": 3, "rate": 0.25}]
      cache = {
        f"689 {alpha:g} {judge} {path}": {"rate": rate, "pairs": pairs}
        for alpha in (0.2, 1.0, 4.0)
        for judge, rate in (("erm", 0.0199 * alpha), ("nn", 0.0001))
      }
      raw = science.teacher_job(preset, "raw", base, "689")
      cache[f"689 1 erm {training.model_path(raw.output_dir(root), raw.config)}"] = {"rate": 0.0499, "pairs": pairs}
      with open(os.path.join(root, "intrusion.json"), "w") as f:
        json.dump(cache, f)
      text = science_report.intrusion_section(runs, full)
      self.assertIn("| {6,8,9} (12 mixes) | 0.40 / 0.01 | 1.99 / 0.01 | 7.96 / 0.01 |", text)
      self.assertIn("| 6+9 | 12 | 25.00 | 25.00 |", text)
      self.assertNotIn("not run", text)
      self.assertEmpty(runs.missing)
      self.assertEqual(science_report._flagged(runs, full, "raw", "689"), "4.99")  # noqa: SLF001
      # Not cached and no model: "not run" (nothing measured, nothing invented).
      self.assertEqual(science_report._flagged(runs, full, "raw", "147"), "not run")  # noqa: SLF001
