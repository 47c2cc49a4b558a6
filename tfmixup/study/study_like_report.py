"""Round 3's report (exploratory): the study's table in the most study-like configuration.

Runs come from `study_like.phases3`. Every cell pairs Mixup with ERM by
seed; a subset's penalty minus MNIST's compares independent runs (Welch).
Nothing here is corrected for multiplicity (PLAN.md, round 3).
"""

import dataclasses

import numpy as np

from tfmixup.config import TrainConfig
from tfmixup.study import paper, science, statistics
from tfmixup.study.confirm import TARGETS
from tfmixup.study.study_like import DATASETS, METHODS, SETTINGS, Setting, StudyRound, cell
from tfmixup.study.tables import NOT_RUN, incomplete_note, interval_pp, markdown_table, mean_train_test, subset_label

METHOD_ROWS = {"mixup": "Mixup", "erm": "without"}  # the study's row names


@dataclasses.dataclass
class StudyRuns:
  """Round 3's saved runs, read on demand; `missing` collects run names not saved."""

  plan: StudyRound
  base: TrainConfig
  root: str
  missing: set = dataclasses.field(default_factory=set)
  _read: dict = dataclasses.field(default_factory=dict)

  def cell(self, setting: Setting, name: str, method: str) -> list[dict] | None:
    """The saved runs of one cell by seed; None if one is missing."""
    key = (setting.label, name, method)
    if key not in self._read:
      self._read[key] = science.saved_runs(cell(self.plan, self.base, setting, name, method), self.root, self.missing)
    return self._read[key]

  def penalty(self, setting: Setting, name: str) -> np.ndarray | None:
    """Mixup − ERM test accuracy per seed, `[seeds]`; None if a run is missing."""
    m, e = self.cell(setting, name, "mixup"), self.cell(setting, name, "erm")
    return None if m is None or e is None else statistics.per_seed(m, e, "test_accuracy")


def _with_study(interval: dict, study_pp: float) -> str:
  """An interval in pp, and whether it holds the study's value."""
  inside = 100 * interval["low"] <= study_pp <= 100 * interval["high"]
  return f"{interval_pp(interval)} ({'holds' if inside else 'excludes'} the study's {study_pp:+.1f})"


def _mde(interval: dict) -> str:
  """The smallest true difference detected with 80% power at α 0.05, at the observed standard error."""
  return f"{100 * statistics.mde(interval['se'], interval['df'], 0.05):.2f}"


def table_rows(runs: StudyRuns) -> list:
  """The study's Table 1 layout: train (test) accuracy per setting and method, then the study's own rows."""
  rows = []
  for setting in SETTINGS:
    for method in METHODS:
      cells = [runs.cell(setting, name, method) for name in DATASETS]
      rows.append(
        (f"{METHOD_ROWS[method]}, {setting.label}", [NOT_RUN if c is None else mean_train_test(c) for c in cells])
      )
  for method in METHODS:
    rows.append(
      (
        f"the study: {METHOD_ROWS[method]}",
        [f"{train:.1f} ({test:.1f})" for train, test in (paper.TABLE1[method][n] for n in DATASETS)],
      )
    )
  return rows


def penalty_rows(runs: StudyRuns) -> list:
  """Per setting: Mixup − ERM per dataset (paired), each subset's minus MNIST's (Welch), and the observed MDEs."""
  rows = []
  for setting in SETTINGS:
    penalties = {name: runs.penalty(setting, name) for name in DATASETS}
    cells, mdes = [], []
    for name in DATASETS:
      if penalties[name] is None:
        cells.append(NOT_RUN)
        mdes.append("")
        continue
      interval = statistics.t_interval(penalties[name])
      cells.append(_with_study(interval, paper.mixup_penalty(name)))
      mdes.append(_mde(interval))
    for name in DATASETS[1:]:
      if penalties[name] is None or penalties["all"] is None:
        cells.append(NOT_RUN)
        mdes.append("")
        continue
      interval = statistics.welch(penalties[name], penalties["all"])
      cells.append(_with_study(interval, paper.mixup_penalty(name) - paper.mixup_penalty("all")))
      mdes.append(_mde(interval))
    rows += [(setting.label, cells), (f"{setting.label}: MDE (pp)", mdes)]
  return rows


def class_rows(runs: StudyRuns) -> list:
  """Per setting and subset: each class's test error, Mixup − ERM, pp [paired 95% CI]."""
  rows = []
  for setting in SETTINGS:
    for name in DATASETS[1:]:
      m, e = runs.cell(setting, name, "mixup"), runs.cell(setting, name, "erm")
      label = f"{setting.label}, {subset_label(name)} (third class {TARGETS[name].third})"
      if m is None or e is None:
        rows.append((label, [NOT_RUN]))
        continue
      deltas = statistics.per_seed(m, e, statistics.class_errors)  # [seeds, classes]
      names = [str(c) for c in m[0]["class_names"]]
      rows.append(
        (label, ["; ".join(f"{c}: {interval_pp(statistics.t_interval(deltas[:, k]))}" for k, c in enumerate(names))])
      )
  return rows


def section(plan: StudyRound, base: TrainConfig, root: str) -> tuple[str, set]:
  """Round 3's section of `science.md`, and the names of its runs not saved."""
  runs = StudyRuns(plan, base, root)
  seeds = f"subsets seeds {list(plan.subset_seeds)}, MNIST seeds {list(plan.mnist_seeds)}"
  columns = [subset_label(n) for n in DATASETS]
  contrasts = [f"{subset_label(n)} − MNIST" for n in DATASETS[1:]]
  text = [
    "## 0c. The study's table in the most study-like configuration (round 3, exploratory)",
    "",
    "PLAN.md, round 3 (`science_main.py --round=study`). One epoch; the subsets class-sorted in the study's"
    " class order through a 5,000-example shuffle buffer, MNIST in its native order (as mixed as a full"
    " shuffle: `tools/mnist_order.py`, so its cells are the `e1` and `raw` runs); with [0, 1] inputs"
    f" (`sorted`, `e1`) and with unnormalized 0-255 inputs (`sorted_raw`, `raw`); {seeds}. All exploratory:"
    " 95% intervals, no multiplicity correction.",
    "",
    f"Train (test) accuracy, %, mean over seeds, beside the study's ({paper.CITATION}; three runs, one decimal).",
    "",
    markdown_table(columns, table_rows(runs)),
    "",
    "Mixup − ERM, test accuracy, pp [paired 95% CI], and each subset's penalty minus MNIST's [Welch 95% CI]"
    " (negative: Mixup costs accuracy, or costs the subset more than MNIST); whether the interval holds the"
    " study's value; below each setting, the smallest true difference its test detects with 80% power at"
    " α = 0.05, at the observed standard error.",
    "",
    markdown_table(columns + contrasts, penalty_rows(runs)),
    "",
    "Per-class test error, Mixup − ERM, pp [paired 95% CI] (the third class: the one the subset's"
    " most-intruding pair mixes into, round 1's raw designation).",
    "",
    markdown_table(["class: difference"], class_rows(runs)),
    "",
  ]
  text += incomplete_note(runs.missing, "round-3 runs are not saved", "run `science_main.py --round=study` again")
  return "\n".join(text), runs.missing
