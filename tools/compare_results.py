"""Compares two directories of run JSONs cell by cell: what a code change did to the results.

  mkdir -p /tmp/v010 && git archive 62bab26 results/runs | tar -x -C /tmp/v010
  python tools/compare_results.py /tmp/v010/results/runs results/runs --labels 0.1.0 0.2.0

Prints a markdown table: per subset, the mean test accuracy without mixing, and the Mixup and pair-sampling
differences against it (percentage points, paired by seed, 95% t interval), for each directory.
"""

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmixup.study.report import column  # noqa: E402
from tfmixup.study.statistics import paired  # noqa: E402
from tfmixup.study.tables import interval_pp  # noqa: E402

ORDER = ("all", "689", "147", "014", "367")


def load(directory: str) -> dict[tuple[str, str], list[dict]]:
  cells: dict[tuple[str, str], list[dict]] = {}
  for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
    with open(path) as f:
      run = json.load(f)
    classes = run["config"]["classes"]
    subset = "all" if classes is None else "".join(map(str, classes))
    cells.setdefault((subset, run["config"]["method"]), []).append(run)
  return cells


def describe(cells: dict, subset: str) -> list[str]:
  erm = cells.get((subset, "erm"), [])
  out = [f"{100 * sum(r['test_accuracy'] for r in erm) / len(erm):.2f}%" if erm else ""]
  for method in ("mixup", "pair_sampling"):
    treated = cells.get((subset, method), [])
    if not (erm and treated):
      out.append("")
      continue
    out.append(interval_pp(paired(treated, erm)))
  return out


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("before")
  parser.add_argument("after")
  parser.add_argument("--labels", nargs=2, default=["before", "after"])
  args = parser.parse_args()
  runs = [load(args.before), load(args.after)]
  subsets = [s for s in ORDER if any((s, "erm") in r for r in runs)]
  print("| subset | version | test accuracy without mixing | Mixup - without (pp) | pair sampling - without (pp) |")
  print("|---|---|---|---|---|")
  for subset in subsets:
    name = column(None if subset == "all" else tuple(int(c) for c in subset))
    for label, cells in zip(args.labels, runs, strict=True):
      print(f"| {name} | {label} | " + " | ".join(describe(cells, subset)) + " |")


if __name__ == "__main__":
  main()
