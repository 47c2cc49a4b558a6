"""Results as text: "train (test)" accuracy cells, mean ± std over runs, one line per run, Markdown tables.

What the training command (`tfmixup.train_app`) prints after its runs. No
TensorFlow here: `method_label` reads the methods registry only when called.
"""

import math
from collections.abc import Sequence

import numpy as np


def method_label(name: str) -> str:
  """A method's name in tables (its `tfmixup.methods.Method.label`, e.g. "without" for ERM)."""
  from tfmixup import methods  # noqa: PLC0415 - the registry imports TensorFlow

  return methods.get(name).label


def mean_std(values: Sequence[float]) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof=1; NaN for a single value)."""
  values = np.asarray(values, dtype=np.float64)
  std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
  return float(np.mean(values)), std


def format_pct(mean: float, std: float) -> str:
  """'97.5%' or '97.5 ± 0.2%' (percent, one decimal; the spread left out where it is NaN)."""
  if math.isnan(std):
    return f"{100 * mean:.1f}%"
  return f"{100 * mean:.1f} ± {100 * std:.1f}%"


def cell(results: Sequence[dict]) -> str:
  """'train (test)' accuracy over the runs given, each 'mean ± std%' (the mean alone for one run)."""
  train = format_pct(*mean_std([r["train_accuracy"] for r in results]))
  test = format_pct(*mean_std([r["test_accuracy"] for r in results]))
  return f"{train} ({test})"


def run_line(result: dict) -> str:
  """One run: its seed, train and test accuracy (%, two decimals) and wall time."""
  c = result["config"]
  return (
    f"seed {c['seed']}: train {100 * result['train_accuracy']:.2f}%"
    f"  test {100 * result['test_accuracy']:.2f}%  ({result['wall_time_s']:.0f} s)"
  )


def markdown_table(columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
  """A Markdown table with an empty corner cell: one row per (name, cells)."""
  lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
  lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
  return "\n".join(lines)
