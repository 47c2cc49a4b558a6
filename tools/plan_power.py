"""Minimum detectable effects for the confirmatory rounds, from the paired SDs of runs already made.

  .venv/bin/python tools/plan_power.py [results/science]             # round 1
  .venv/bin/python tools/plan_power.py [results/science] --round=2   # round 2: the 1-epoch pair test
  .venv/bin/python tools/plan_power.py [results/science] --round=3   # round 3: the study-like regime

Reads the session grid's raw-regime runs (seeds 0-4, `results/science/regimes/raw/runs`), computes the
per-seed differences each planned test will use (overall test accuracy; the error rate of the class the
subset's most-intruding pair mixes into, from `test_confusion`), and prints, for the planned number of
fresh seeds, the smallest true difference a two-sided paired t test detects with 80% power: at the
family's strictest Holm step (alpha / m) and at its loosest (alpha). Tests with no pilot data use the
closest pilot contrast's SD (said in the table). Its output is pasted into `results/science/PLAN.md`.

Round 2 reads the 1-epoch regime (`regimes/e1/runs`): round 1's exploratory pair test on {6,8,9} (seeds
100-109) and the session grid's pilot (seeds 0-4) for the other subsets (see `round2`).
"""

import json
import os
import sys

import numpy as np

from tfmixup.study import statistics
from tfmixup.study.confirm import ROUND2_TARGETS, TARGETS  # each subset's top pair, third class, control pair
from tfmixup.study.statistics import class_error

PILOT_SEEDS = range(5)


def _run(root: str, name: str, regime: str = "raw") -> dict:
  with open(os.path.join(root, "regimes", regime, "runs", name + ".json")) as f:
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
  """Smallest true difference a two-sided t test at `alpha` detects with `power` (`statistics.mde`).

  Paired: sd of the per-seed difference, n pairs. Unpaired (Welch): sd of each group, sizes n and n2.
  """
  if paired:
    df, se = n - 1, sd / np.sqrt(n)
  else:
    df, se = n + n2 - 2, sd * np.sqrt(1 / n + 1 / n2)
  return statistics.mde(se, df, alpha, power)


def _e1_sd(root: str, subset: str, treated: str, control: str, *, seeds, third: int) -> tuple[float, float]:
  """SDs over `seeds` of the 1-epoch per-seed difference treated - control: (accuracy, class `third`'s error)."""
  acc, err = [], []
  for seed in seeds:
    t = _run(root, f"mnist-{subset}-{treated}-seed{seed}", "e1")
    c = _run(root, f"mnist-{subset}-{control}-seed{seed}", "e1")
    acc.append(t["test_accuracy"] - c["test_accuracy"])
    err.append(class_error(t, third) - class_error(c, third))
  return float(np.std(acc, ddof=1)), float(np.std(err, ddof=1))


def round2(root: str) -> list[tuple]:
  """Round 2's MDE table rows: F7 (top pair excluded - control pair excluded), F8 (top pair excluded - Mixup).

  {6,8,9}: the SDs of round 1's exploratory 1-epoch pair test (seeds 100-109), measured directly. {1,4,7},
  {3,6,7}: no 1-epoch pair test was run, so each endpoint takes the larger of {6,8,9}'s SD and a pilot SD
  of the subset itself (seeds 0-4): Mixup - ERM for F7, dropped - matched drop (two Mixup variants) for
  F8. In the raw regime the pilot's dropped - control SDs understated the pair test's 1.5-3x, hence the max.
  """
  seeds_1 = range(100, 110)
  xp = {name: f"mixup-a1-xp{t.pair[0]}.{t.pair[1]}" for name, t in ROUND2_TARGETS.items()}
  xc = {name: f"mixup-a1-xp{t.control[0]}.{t.control[1]}" for name, t in ROUND2_TARGETS.items()}
  f7_689 = _e1_sd(root, "689", xp["689"], xc["689"], seeds=seeds_1, third=8)
  f8_689 = _e1_sd(root, "689", xp["689"], "mixup-a1", seeds=seeds_1, third=8)
  rows = []
  for family, m, versus, ref_689 in (("F7", 6, "control pair excluded", f7_689), ("F8", 6, "Mixup", f8_689)):
    for name, target in ROUND2_TARGETS.items():
      n = 15 if name == "689" else 10
      if name == "689":
        sds, source = ref_689, "round 1, e1 {6,8,9}, seeds 100-109"
      else:
        treated, control, what = (
          ("mixup-a1", "erm", "Mixup - ERM")
          if family == "F7"
          else (
            f"mixup_filtered-a1-tmnist_{name}_erm_seed1000",
            f"mixup_random_drop-a1-tmnist_{name}_erm_seed1000",
            "dropped - control",
          )
        )
        own = _e1_sd(root, name, treated, control, seeds=PILOT_SEEDS, third=target.third)
        sds = tuple(max(a, b) for a, b in zip(ref_689, own, strict=True))
        source = f"max of {{6,8,9}}'s and the e1 pilot's {what} ({100 * own[0]:.2f}, {100 * own[1]:.2f})"
      reference = f"without {target.control[0]}+{target.control[1]}" if family == "F7" else versus
      label = f"{name}: without {target.pair[0]}+{target.pair[1]} - {reference}"
      for endpoint, sd in (("accuracy", sds[0]), (f"class-{target.third} error", sds[1])):
        rows.append((family, f"{label}, {endpoint}", n, sd, mde(sd, n, 0.05 / m), mde(sd, n, 0.05), source))
  return rows


def _penalty_sd(root: str, regime: str, name: str, tag: str, *, seeds, third: int | None) -> tuple[float, float]:
  """SDs over `seeds` of Mixup - ERM in `regime` (file tag `tag`): (accuracy, class `third`'s error or NaN)."""
  acc, err = [], []
  for seed in seeds:
    m = _run(root, f"mnist-{name}-mixup-a1{tag}-seed{seed}", regime)
    e = _run(root, f"mnist-{name}-erm{tag}-seed{seed}", regime)
    acc.append(m["test_accuracy"] - e["test_accuracy"])
    err.append(np.nan if third is None else class_error(m, third) - class_error(e, third))
  return float(np.std(acc, ddof=1)), float(np.std(err, ddof=1))


def round3(root: str) -> list[tuple]:
  """Round 3's MDE rows (exploratory: alpha 0.05, no correction; 10 seeds per subset cell, 5 for MNIST).

  The SDs come from the pilot seeds 0-4. The new cells (class-sorted subsets with 0-255 inputs) have no
  pilot: each endpoint takes the larger of the SDs of the two regimes they combine, `sorted` and `raw`.
  MNIST's penalty: `e1` (seeds 0-4) and `raw` (seeds 100-104, round 1). The contrast subset - MNIST
  compares independent runs (10 and 5), with the larger of the two SDs for both.
  """
  rows = []
  mnist = {
    "[0, 1]": _penalty_sd(root, "e1", "all", "", seeds=PILOT_SEEDS, third=None)[0],
    "0-255": _penalty_sd(root, "raw", "all", "-x255", seeds=range(100, 105), third=None)[0],
  }
  for name in ("689", "147"):
    third = TARGETS[name].third
    sorted_sd = _penalty_sd(root, "sorted", name, "-sb5000", seeds=PILOT_SEEDS, third=third)
    raw_sd = _penalty_sd(root, "raw", name, "-x255", seeds=PILOT_SEEDS, third=third)
    for inputs, sds, source in (
      ("[0, 1]", sorted_sd, "sorted (the runs themselves)"),
      ("0-255", tuple(max(a, b) for a, b in zip(sorted_sd, raw_sd, strict=True)), "max of sorted's and raw's"),
    ):
      label = f"{name}, {inputs} inputs: Mixup - ERM"
      for family, endpoint, sd in (("penalty", "accuracy", sds[0]), ("signature", f"class-{third} error", sds[1])):
        rows.append((family, f"{label}, {endpoint}", 10, sd, mde(sd, 10, 0.05), mde(sd, 10, 0.05), source))
      sd = max(sds[0], mnist[inputs])
      contrast = mde(sd, 10, 0.05, paired=False, n2=5)
      rows.append(("vs MNIST", f"{name} - MNIST, {inputs} inputs, penalty", 10, sd, contrast, contrast, "max of both"))
  return rows


def _print(rows: list[tuple]) -> None:
  print("| family | test | seeds | SD (pp) | MDE at α/m (pp) | MDE at α (pp) | SD from |")
  print("|---|---|---|---|---|---|---|")
  for family, test, n, sd, strict, loose, source in rows:
    print(f"| {family} | {test} | {n} | {100 * sd:.2f} | {100 * strict:.2f} | {100 * loose:.2f} | {source} |")


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
  args = [a for a in sys.argv[1:] if not a.startswith("--round")]
  where = args[0] if args else "results/science"
  if "--round=2" in sys.argv[1:]:
    _print(round2(where))
  elif "--round=3" in sys.argv[1:]:
    _print(round3(where))
  else:
    main(where)
