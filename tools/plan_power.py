"""Minimum detectable effects for the confirmatory round, from the session grid's paired SDs.

  .venv/bin/python tools/plan_power.py [results/science]

Reads the session grid's raw-regime runs (seeds 0-4, `results/science/regimes/raw/runs`), computes the
per-seed differences each planned test will use (overall test accuracy; the error rate of the class the
subset's most-intruding pair mixes into, from `test_confusion`), and prints, for the planned number of
fresh seeds, the smallest true difference a two-sided paired t test detects with 80% power: at the
family's strictest Holm step (alpha / m) and at its loosest (alpha). Tests with no pilot data use the
closest pilot contrast's SD (said in the table). Its output is pasted into `results/science/PLAN.md`.
"""

import json
import os
import sys

import numpy as np
from scipy import stats

from tfmixup.study.confirm import TARGETS  # each subset's most-intruding pair, third class, control pair
from tfmixup.study.statistics import class_error

PILOT_SEEDS = range(5)


def _run(root: str, name: str) -> dict:
  with open(os.path.join(root, "regimes", "raw", "runs", name + ".json")) as f:
    return json.load(f)


def pilot(root: str, subset: str, method: str, seed: int) -> dict:
  tag = {
    "erm": "erm",
    "mixup": "mixup-a1",
    "drop": f"mixup_filtered-a1-tmnist_{subset}_erm_x255_seed1000",
    "control": f"mixup_random_drop-a1-tmnist_{subset}_erm_x255_seed1000",
  }[method]
  return _run(root, f"mnist-{subset}-{tag}-x255-seed{seed}")


def differences(root: str, subset: str, treated: str, control: str) -> tuple[np.ndarray, np.ndarray]:
  """Per-seed treated - control: (overall test accuracy, third-class error)."""
  third = TARGETS[subset].third
  acc, err = [], []
  for seed in PILOT_SEEDS:
    t, c = pilot(root, subset, treated, seed), pilot(root, subset, control, seed)
    acc.append(t["test_accuracy"] - c["test_accuracy"])
    err.append(class_error(t, third) - class_error(c, third))
  return np.array(acc), np.array(err)


def mde(sd: float, n: int, alpha: float, *, power: float = 0.8, paired: bool = True, n2: int | None = None) -> float:
  """Smallest true difference a two-sided t test at `alpha` detects with `power` (noncentral-t free approximation).

  Paired: sd of the per-seed difference, n pairs. Unpaired (Welch): sd of each group, sizes n and n2.
  """
  if paired:
    df, se = n - 1, sd / np.sqrt(n)
  else:
    df, se = n + n2 - 2, sd * np.sqrt(1 / n + 1 / n2)
  return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def main(root: str) -> None:
  rows = []

  def add(family: str, m: int, test: str, sd: float, n: int, source: str, **kw) -> None:  # noqa: PLR0917
    rows.append((family, test, n, sd, mde(sd, n, 0.05 / m, **kw), mde(sd, n, 0.05, **kw), source))

  for subset in TARGETS:
    acc, err = differences(root, subset, "mixup", "erm")
    add("F1 penalty", 4, f"{subset}: Mixup - ERM, accuracy", acc.std(ddof=1), 15, "pilot")
    add("F2 signature", 4, f"{subset}: Mixup - ERM, class-{TARGETS[subset].third} error", err.std(ddof=1), 15, "pilot")
  for subset in TARGETS:
    acc, err = differences(root, subset, "drop", "control")
    n = 15 if subset == "689" else 10
    add("F3 flag-level", 8, f"{subset}: dropped - control, accuracy", acc.std(ddof=1), n, "pilot")
    add("F3 flag-level", 8, f"{subset}: dropped - control, class error", err.std(ddof=1), n, "pilot")
  for subset in ("689", "147", "367"):
    acc, err = differences(root, subset, "drop", "control")
    src = "pilot SD of dropped - control"
    add("F4 pair-level", 6, f"{subset}: pair-excluded - matched, accuracy", acc.std(ddof=1), 10, src)
    add("F4 pair-level", 6, f"{subset}: pair-excluded - matched, class error", err.std(ddof=1), 10, src)
  # The swap: a difference of two triples' penalties (independent datasets, 15 and 10 seeds).
  _, err = differences(root, "689", "mixup", "erm")
  src = "pilot SD of {6,8,9}'s class-8 penalty, both triples"
  add("F5 swap", 2, "third-class penalty, {6,9,8} - {6,9,2}", err.std(ddof=1), 15, src, paired=False, n2=10)
  acc, _ = differences(root, "689", "mixup", "erm")
  add(
    "F6 subset vs MNIST",
    2,
    "accuracy penalty, subset - MNIST",
    acc.std(ddof=1),
    15,
    "pilot SD of {6,8,9}'s penalty, both",
    paired=False,
    n2=5,
  )
  print("| family | test | seeds | pilot SD (pp) | MDE at α/m (pp) | MDE at α (pp) | SD from |")
  print("|---|---|---|---|---|---|---|")
  for family, test, n, sd, strict, loose in ((r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows):
    source = next(r[6] for r in rows if r[1] == test)
    print(f"| {family} | {test} | {n} | {100 * sd:.2f} | {100 * strict:.2f} | {100 * loose:.2f} | {source} |")


if __name__ == "__main__":
  main(sys.argv[1] if len(sys.argv) > 1 else "results/science")
