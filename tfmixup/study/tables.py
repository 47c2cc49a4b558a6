"""The study's tables: dataset labels, intervals in percentage points, notes on missing runs.

The cells every table shares ("train (test)" accuracy, mean ± std, Markdown
tables) are the library's, `tfmixup.tables`; they are importable from here
too. The study (陈晋泰, "Mixup 技术分析", Table 1) prints one "train (test)"
cell per method and dataset, three runs, mean only; `cell` adds the spread.
"""

from collections.abc import Sequence

import numpy as np

from tfmixup.tables import cell, format_pct, markdown_table, mean_std, method_label, run_line

__all__ = [
  "NOT_RUN",
  "cell",
  "format_pct",
  "incomplete_note",
  "interval_pp",
  "markdown_table",
  "mean_std",
  "mean_train_test",
  "method_label",
  "run_line",
  "subset_label",
]

NOT_RUN = "not run"  # a cell whose runs are not all saved


def mean_train_test(runs: Sequence[dict]) -> str:
  """Mean train (test) accuracy over `runs`, %, two decimals, in the study's Table 1 form: '97.35 (97.39)'."""
  train, test = (100 * np.mean([r[key] for r in runs]) for key in ("train_accuracy", "test_accuracy"))
  return f"{train:.2f} ({test:.2f})"


def subset_label(name: str) -> str:
  """A dataset's label in the study's tables: "MNIST" for "all", else its digits, e.g. "689" -> "{6,8,9}"."""
  return "MNIST" if name == "all" else "{" + ",".join(name) + "}"


def interval_pp(interval: dict) -> str:
  """A difference of fractions with its interval, in signed percentage points: '+0.12 [-0.30, +0.54]'."""
  return f"{100 * interval['mean']:+.2f} [{100 * interval['low']:+.2f}, {100 * interval['high']:+.2f}]"


def incomplete_note(missing: set, what: str, how: str) -> list[str]:
  """Markdown lines saying that `missing` (run names) are not saved, and how to finish them ([] if none)."""
  if not missing:
    return []
  first = ", ".join(sorted(missing)[:5])
  return [f"**Incomplete: {len(missing)} {what}** ({how}); the first: {first}.", ""]
