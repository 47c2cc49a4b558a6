"""The reproduction's report (tfmixup/study/report.py) on fabricated runs, and the cut-down grid end to end.

The report tests build run results by hand (no training) and recompute every
number they check with numpy and scipy. The grid test runs the real command
on a tiny cut of MNIST in two shards at once (slow: marked `slow`).
"""

import csv
import dataclasses
import glob
import itertools
import json
import os
import re
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from helpers import MNIST_DIR, coded_arrays
from matplotlib import image as mpimg
from scipy import stats

from tfmixup import training
from tfmixup.config import TrainConfig, subset_name
from tfmixup.study import grid, intrusion, report, statistics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDY_SUBSETS = (None, (6, 8, 9), (1, 4, 7))
SEEDS = (0, 1, 2)


def _result(classes, method: str, seed: int, train: float, test: float) -> dict:
  config = {"dataset": "mnist", "classes": classes and list(classes), "method": method, "alpha": 1.0}
  config.update(seed=seed, epochs=5)
  return {"config": config, "train_accuracy": train, "test_accuracy": test, "wall_time_s": 12.0}


def _fabricated_cells(subsets=STUDY_SUBSETS, methods=("erm", "mixup", "pair_sampling")) -> dict:
  """Runs of every (subset, method), accuracies drawn at random, each method's runs in another order of seeds.

  Pairing two cells by position would match the wrong seeds: only pairing by seed gives the right difference.
  """
  rng = np.random.default_rng(19)
  cells = {}
  for classes, (k, method) in itertools.product(subsets, enumerate(methods)):
    train, test = rng.uniform(0.90, 0.99, size=(2, len(SEEDS)))
    order = np.roll(SEEDS, k)  # erm 0, 1, 2; mixup 2, 0, 1; pair sampling 1, 2, 0
    cells[(subset_name(classes), method)] = [_result(classes, method, s, train[s], test[s]) for s in order]
  return cells


def _by_seed(runs: list[dict], key: str) -> np.ndarray:
  return np.array([r[key] for r in sorted(runs, key=lambda r: r["config"]["seed"])])


def _pct(values: np.ndarray, ddof: int = 1) -> str:
  return f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=ddof):.1f}%"


def _pp(mean: float, low: float, high: float) -> str:
  return f"{100 * mean:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]"


def _rows(markdown: str) -> dict[str, list[str]]:
  """A Markdown table's rows by their first cell (header and rule rows left out)."""
  rows = {}
  for line in markdown.splitlines():
    if line.startswith("| ") and not line.startswith("| |"):
      name, *cells = line.strip("| ").split(" | ")
      rows[name] = cells
  return rows


class Table1Test(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.cells = _fabricated_cells()
    self.rows = _rows(report.table1_markdown(self.cells, STUDY_SUBSETS, "cmd", "protocol"))

  def test_our_cells_are_mean_and_sample_std_over_seeds(self):
    for label, method in (("Mixup", "mixup"), ("without", "erm"), ("pair sampling", "pair_sampling")):
      got = self.rows[f"{label} (ours, {len(SEEDS)} seeds)"]
      for cell, classes in zip(got, STUDY_SUBSETS, strict=True):
        runs = self.cells[(subset_name(classes), method)]
        train, test = _by_seed(runs, "train_accuracy"), _by_seed(runs, "test_accuracy")
        self.assertEqual(cell, f"{_pct(train)} ({_pct(test)})")
        self.assertNotEqual(_pct(test), _pct(test, ddof=0))  # the data tell a sample std from a population one

  def test_differences_are_t_intervals_of_differences_paired_by_seed(self):
    for label, method in (("Mixup", "mixup"), ("pair sampling", "pair_sampling")):
      got = self.rows[f"{label} - without (ours)"]
      for cell, classes in zip(got, STUDY_SUBSETS, strict=True):
        key = subset_name(classes)
        treated = _by_seed(self.cells[(key, method)], "test_accuracy")
        control = _by_seed(self.cells[(key, "erm")], "test_accuracy")
        diff = treated - control
        low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
        self.assertEqual(cell, _pp(diff.mean(), low, high))
        paired = statistics.paired(self.cells[(key, method)], self.cells[(key, "erm")])  # and its p is the t test's
        self.assertAllClose(paired["p"], stats.ttest_rel(treated, control).pvalue, rtol=1e-10)
        by_position = [
          t["test_accuracy"] - c["test_accuracy"]
          for t, c in zip(*(self.cells[(key, m)] for m in (method, "erm")), strict=True)
        ]
        self.assertNotAllClose(sorted(by_position), sorted(diff))  # paired by position, the differences would differ

  def test_the_study_rows_are_its_table_1(self):
    self.assertEqual(self.rows["Mixup (study)"], ["98.8% (97.9%)", "95.6% (94.5%)", "96.8% (96.1%)"])
    self.assertEqual(self.rows["without (study)"], ["99.2% (98.1%)", "97.7% (97.3%)", "98.1% (97.2%)"])
    self.assertEqual(self.rows["Mixup - without (study)"], ["-0.20", "-2.80", "-1.10"])
    self.assertNotIn("pair sampling (study)", self.rows)


class LabelTest(tf.test.TestCase):
  def test_a_subset_is_labelled_by_its_digits_in_its_order(self):
    self.assertEqual(report.column(None), "MNIST")
    self.assertEqual(report.column((6, 8, 9)), "{6,8,9}")
    self.assertEqual(report.column((6, 9, 2)), "{6,9,2}")  # the confirmatory round's swap triples are not sorted


class CsvTest(tf.test.TestCase):
  def test_one_row_per_run_with_its_numbers(self):
    cells = _fabricated_cells()
    path = os.path.join(self.create_tempdir().full_path, "runs.csv")
    report.write_csv(cells, path)
    with open(path) as f:
      rows = {(r["subset"], r["method"], int(r["seed"])): r for r in csv.DictReader(f)}
    self.assertLen(rows, len(cells) * len(SEEDS))
    for (key, method), runs in cells.items():
      for run in runs:
        row = rows[(key, method, run["config"]["seed"])]
        self.assertEqual(row["test_accuracy"], f"{run['test_accuracy']:.5f}")
        self.assertEqual(row["train_accuracy"], f"{run['train_accuracy']:.5f}")
        self.assertEqual(row["alpha"], "1.0" if method == "mixup" else "")  # α only where it mixes


class IntrusionTest(tf.test.TestCase):
  """`intrusion_markdown` with the models and their rates faked: what the report makes of given rates."""

  SUBSETS = ((6, 8, 9), (1, 4, 7), (0, 1, 4), (3, 6, 7))

  def test_rates_worst_pair_and_penalty_per_subset(self):
    out = self.create_tempdir().full_path
    base = TrainConfig(epochs=1)
    spec = grid.GridSpec(base=base, seeds=SEEDS, cells=())
    cells = _fabricated_cells(self.SUBSETS, ("erm", "mixup"))
    seed_of = {}
    for classes, seed in itertools.product(self.SUBSETS, SEEDS):
      config = dataclasses.replace(base, classes=classes, method="erm", seed=seed)
      seed_of[training.model_path(out, config)] = seed
    level = {c: 0.1 * (k + 1) for k, c in enumerate(self.SUBSETS)}  # intrusion grows down the list

    def rates(seed: int, names: tuple[str, ...]) -> list[dict]:
      rows = []
      for (i, first), (j, second) in itertools.permutations(enumerate(names), 2):
        for lam in intrusion.LAMBDAS:
          worst = 0.2 if (i, j, lam) == (1, 0, 0.5) else 0.0  # the second class mixed into the first
          rate = level[tuple(map(int, names))] + 0.01 * seed * (i + 1) + worst
          rows.append({"first": first, "second": second, "lam": lam, "intrusion": rate})
      return rows

    full = training.SplitData(train=coded_arrays(40, num_classes=10), test=coded_arrays(40, num_classes=10))
    with (
      mock.patch.object(report.keras.models, "load_model", side_effect=seed_of.__getitem__),
      mock.patch.object(
        report.intrusion, "intrusion_rates", side_effect=lambda seed, test: rates(seed, test.class_names)
      ),
      mock.patch.object(report.intrusion, "mixture_resemblance", return_value=0.5),
    ):
      text, _ = report.intrusion_markdown(spec, out, cells, full, self.SUBSETS, command="cmd")
    rows = _rows(text)
    penalties = []
    for classes in self.SUBSETS:
      per_seed = [rates(s, tuple(map(str, classes))) for s in SEEDS]
      overall = np.array([np.mean([r["intrusion"] for r in seed_rows]) for seed_rows in per_seed])
      half = np.array([np.mean([r["intrusion"] for r in seed_rows if r["lam"] == 0.5]) for seed_rows in per_seed])
      worst_pair = (str(classes[1]), str(classes[0]), 0.5)
      worst = np.mean(
        [r["intrusion"] for rows_ in per_seed for r in rows_ if (r["first"], r["second"], r["lam"]) == worst_pair]
      )
      erm = _by_seed(cells[(subset_name(classes), "erm")], "test_accuracy")
      mixup = _by_seed(cells[(subset_name(classes), "mixup")], "test_accuracy")
      penalty = erm - mixup  # positive: Mixup hurts
      penalties.append(penalty.mean())
      low, high = stats.t.interval(0.95, len(SEEDS) - 1, loc=penalty.mean(), scale=stats.sem(penalty))
      want = ["0.500", _pct(overall), _pct(half), f"{classes[1]} + {classes[0]}: {100 * worst:.1f}%"]
      self.assertEqual(rows["{" + ",".join(map(str, classes)) + "}"], [*want, _pp(penalty.mean(), low, high)])
    rho = stats.spearmanr([level[c] for c in self.SUBSETS], penalties).statistic
    self.assertIn(f"over these 4 subsets: {rho:+.2f}.", text)


@pytest.mark.slow
class CutDownGridTest(tf.test.TestCase):
  def test_two_shards_train_every_run_once_and_one_writes_the_report_of_all(self):
    self.assertTrue(os.path.isdir(MNIST_DIR), f"real MNIST expected at {MNIST_DIR}")
    out = self.create_tempdir().full_path
    args = [
      sys.executable,
      os.path.join(ROOT, "reproduce_main.py"),
      f"--data_dir={MNIST_DIR}",
      f"--output_dir={out}",
      "--seeds=2",
      "--epochs=1",
      "--train_size=512",  # whole batches of 128: one traced step function
      "--test_size=400",
    ]
    # Two shards at once on one output directory (as two machines would be):
    # each trains its runs once, the last to finish writes the report.
    shards = [
      subprocess.Popen([*args, f"--shard={i}/2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)
    ]
    outs = [proc.communicate(timeout=900) for proc in shards]
    for proc, (_, stderr) in zip(shards, outs, strict=True):
      self.assertEqual(proc.returncode, 0, msg=stderr[-3000:])
    spec = grid.default_spec(TrainConfig(), range(2))
    want = sorted((subset_name(c.classes), c.method, c.seed) for c in spec.configs())
    trained = [
      re.findall(r"\] (\w+) (\w+) seed (\d+): test [\d.]+% \(trained in", stdout) for stdout, _ in outs
    ]  # per shard: (subset, method, seed) of each run it trained
    self.assertEqual(sorted((s, m, int(seed)) for s, m, seed in trained[0] + trained[1]), want)
    self.assertTrue(any(f"reports in {out}" in stdout for stdout, _ in outs), msg=[s[-500:] for s, _ in outs])

    results = {}
    for path in glob.glob(os.path.join(out, "runs", "*.json")):
      with open(path) as f:
        r = json.load(f)
      results.setdefault((subset_name(r["config"]["classes"]), r["config"]["method"]), []).append(r)
    with open(os.path.join(out, "runs.csv")) as f:
      self.assertEqual(sorted((r["subset"], r["method"], int(r["seed"])) for r in csv.DictReader(f)), want)
    with open(os.path.join(out, "table1.md")) as f:
      rows = _rows(f.read())
    for label, method in (("Mixup", "mixup"), ("without", "erm"), ("pair sampling", "pair_sampling")):
      cells = rows[f"{label} (ours, 2 seeds)"]
      for cell, classes in zip(cells, STUDY_SUBSETS, strict=True):
        runs = results[(subset_name(classes), method)]
        self.assertEqual(cell, f"{_pct(_by_seed(runs, 'train_accuracy'))} ({_pct(_by_seed(runs, 'test_accuracy'))})")
    with open(os.path.join(out, "intrusion.md")) as f:
      intrusion_rows = _rows(f.read())
    for subset in ("{6,8,9}", "{1,4,7}", "{0,1,4}", "{3,6,7}"):
      self.assertLen(intrusion_rows[subset], 5)
    self.assertIn("6 + 9", intrusion_rows)
    for name in ("table1.png", "mixtures.png"):
      picture = mpimg.imread(os.path.join(out, name))
      self.assertGreater(picture.shape[0], 200)
      self.assertGreater(picture.std(), 0.01)  # not blank
