"""Confirmatory round 2's report: the pair test in the 1-epoch regime (`results/science/PLAN.md`, "Round 2").

F7 (top pair excluded − control pair excluded) and F8 (top pair excluded −
Mixup), each Holm-adjusted over the tests it has, read as round 1's
families are (`confirm_report.Test`); the two-way bootstrap over seeds ×
test images for every test of both; per-class error deltas against Mixup
and, where the exploratory ERM phase ran, against ERM. Runs come from
`confirm.phases2`.
"""

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from tfmixup import training
from tfmixup.config import TrainConfig
from tfmixup.study import confirm, science, statistics
from tfmixup.study.confirm import ROUND2_TARGETS, Round2
from tfmixup.study.confirm_report import (
  ARM_LABELS,
  Test,
  accuracy,
  draw_class_deltas,
  family_table,
  finish_family,
  nulls_table,
  paired_bootstrap,
  third_error,
)
from tfmixup.study.regimes import SUBSETS
from tfmixup.study.tables import incomplete_note, interval_pp, markdown_table, subset_label

FAMILY_LABELS = {
  "F7": "F7, the pair contrast: top pair excluded − control pair excluded"
  " (predicted: accuracy > 0, third-class error < 0)",
  "F8": "F8, the top pair against Mixup: top pair excluded − Mixup (predicted: accuracy > 0, third-class error < 0)",
}
# Each family's comparison: (treated arm, reference arm).
CONTRASTS = {"F7": ("pair_excluded", "matched_excluded"), "F8": ("pair_excluded", "mixup")}


@dataclasses.dataclass
class Round2Runs:
  """Round 2's saved runs, read on demand; `missing` collects run names not saved."""

  plan: Round2
  base: TrainConfig
  root: str
  full: training.SplitData | None
  missing: set = dataclasses.field(default_factory=set)
  _read: dict = dataclasses.field(default_factory=dict)

  def cell(self, name: str, arm: str, seeds: Sequence[int] | None = None) -> list[dict] | None:
    """The saved runs of one arm of subset `name` by seed (default: its confirmatory seeds); None if one is missing."""
    seeds = tuple(self.plan.seeds_of(name) if seeds is None else seeds)
    key = (name, arm, seeds)
    if key not in self._read:
      jobs = confirm.round2_cell(self.plan, self.base, name, arm, seeds)
      self._read[key] = science.saved_runs(jobs, self.root, self.missing)
    return self._read[key]


def _pair(pair: tuple[int, int]) -> str:
  return f"{pair[0]}+{pair[1]}"


def families(runs: Round2Runs) -> dict[str, list[Test]]:
  """F7 and F8 of the plan's round 2, each Holm-adjusted over the tests it has."""
  out: dict[str, list[Test]] = {}
  for family, (treated, reference) in CONTRASTS.items():
    for name, target in ROUND2_TARGETS.items():
      t, c = runs.cell(name, treated), runs.cell(name, reference)
      versus = f"without {_pair(target.control)}" if reference == "matched_excluded" else "Mixup"
      pre = f"{subset_label(name)}: without {_pair(target.pair)} − {versus}"
      for endpoint, outcome, label, predicted in (
        ("accuracy", accuracy, "accuracy", +1),
        ("error", third_error(target.third), f"class-{target.third} error", -1),
      ):
        result = None if t is None or c is None else statistics.paired(t, c, outcome)
        out.setdefault(family, []).append(Test(family, f"{pre}, {label}", predicted, result, key=(name, endpoint)))
  for tests in out.values():
    finish_family(tests)
  return out


def _bootstrap_rows(runs: Round2Runs) -> list:
  rows = []
  for family, (treated, reference) in CONTRASTS.items():
    for name, target in ROUND2_TARGETS.items():
      t, c = runs.cell(name, treated), runs.cell(name, reference)
      for third, what in ((None, "accuracy"), (target.third, f"class-{target.third} error")):
        label = f"{family} {subset_label(name)}: {ARM_LABELS[treated]} − {ARM_LABELS[reference]}, {what}"
        cell = "not run" if t is None or c is None else paired_bootstrap(runs.full, t, c, third)
        rows.append((label, [cell]))
  return rows


def class_rows(runs: Round2Runs) -> tuple[list, dict]:
  """Per-class test error, arm − Mixup and arm − ERM (pp, paired 95% CI); also the intervals for the figure."""
  rows, figure = [], {}
  for name in ROUND2_TARGETS:
    for arm, reference, seeds in (
      ("pair_excluded", "mixup", None),
      ("matched_excluded", "mixup", None),
      ("mixup", "erm", runs.plan.erm_seeds),
      ("pair_excluded", "erm", runs.plan.erm_seeds),
      ("matched_excluded", "erm", runs.plan.erm_seeds),
    ):
      t, r = runs.cell(name, arm, seeds), runs.cell(name, reference, seeds)
      label = f"{subset_label(name)} {ARM_LABELS[arm]} − {ARM_LABELS[reference]}"
      if t is None or r is None:
        rows.append((label, ["not run"]))
        continue
      cells = []
      for k, c in enumerate(str(c) for c in t[0]["class_names"]):
        i = statistics.paired(t, r, lambda x, k=k: statistics.class_errors(x)[k])
        if reference == "mixup":
          figure[(name, arm, c)] = i
        cells.append(f"{c}: {interval_pp(i)}")
      rows.append((f"{label} ({len(t)} seeds)", ["; ".join(cells)]))
  return rows, figure


def _exploratory(runs: Round2Runs) -> list[str]:
  rows = []
  for name, target in ROUND2_TARGETS.items():
    for treated, reference, seeds in (
      ("matched_excluded", "mixup", None),
      ("mixup", "erm", runs.plan.erm_seeds),
    ):
      t, r = runs.cell(name, treated, seeds), runs.cell(name, reference, seeds)
      label = f"{subset_label(name)}: {ARM_LABELS[treated]} − {ARM_LABELS[reference]}"
      if t is None or r is None:
        rows.append((label, ["not run", "not run"]))
        continue
      acc, err = statistics.paired(t, r, accuracy), statistics.paired(t, r, third_error(target.third))
      rows.append((label, [f"{interval_pp(acc)} (p {acc['p']:.2g})", f"{interval_pp(err)} (p {err['p']:.2g})"]))
  # {1,4,7} by round 1's raw designation (third class 7): the sign that designation predicts is the opposite.
  seven = []
  for treated, reference in CONTRASTS.values():
    t, r = runs.cell("147", treated), runs.cell("147", reference)
    if t is not None and r is not None:
      i = statistics.paired(t, r, third_error(7))
      seven.append((f"{ARM_LABELS[treated]} − {ARM_LABELS[reference]}", [f"{interval_pp(i)} (p {i['p']:.2g})"]))
  text = [
    "### Round 2, exploratory (no correction)",
    "",
    "Test accuracy and the third class's test error, pp [paired 95% CI] (ERM: the exploratory phase's seeds):",
    "",
    markdown_table(["accuracy", "third-class error"], rows),
    "",
  ]
  if seven:
    text += [
      "{1,4,7}'s class-7 error (round 1's raw designation: 1 + 4 mixing into 7), pp [paired 95% CI]:",
      "",
      markdown_table(["class-7 error"], seven),
      "",
    ]
  return text


def _shares(full: training.SplitData) -> list[str]:
  """The expected share of one epoch's pairs each exclusion removes, from the training split's class sizes."""
  rows = []
  for name, target in ROUND2_TARGETS.items():
    sizes = {c: int(np.sum(full.train.labels == full.train.source_classes.index(c))) for c in SUBSETS[name]}
    total = sum(sizes.values())
    cells = [
      f"{_pair(p)}: {100 * 2 * sizes[p[0]] * sizes[p[1]] / total**2:.1f}%" for p in (target.pair, target.control)
    ]
    rows.append((subset_label(name), cells))
  return [
    "Mixes each exclusion removes (expected share of one epoch's pairs):",
    "",
    markdown_table(["top pair excluded", "control pair excluded"], rows),
    "",
  ]


def _figure(figure: dict, root: str) -> None:
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415

  arms = ("pair_excluded", "matched_excluded")
  fig, axes = plt.subplots(1, len(ROUND2_TARGETS), figsize=(4 * len(ROUND2_TARGETS), 3.4), sharey=True)
  for ax, (name, target) in zip(axes, ROUND2_TARGETS.items(), strict=True):
    draw_class_deltas(ax, figure, name, arms, target.third, spacing=0.2, first_color=3)
    ax.set_title(f"{subset_label(name)}, 1 epoch: without {_pair(target.pair)} / {_pair(target.control)}", fontsize=8)
  axes[0].set_ylabel("test error − Mixup's, pp (paired 95% CI)")
  axes[0].legend(fontsize=6, loc="upper left")
  fig.tight_layout()
  fig.savefig(os.path.join(root, "round2_classes.png"), dpi=120)
  plt.close(fig)


def section(plan: Round2, base: TrainConfig, root: str, full: training.SplitData) -> tuple[str, set]:
  """The report's round-2 section (and `round2_classes.png`); returns it and the missing runs.

  Args:
    full: the dataset with every class, both splits whole (runs' splits are cut from it).
  """
  runs = Round2Runs(plan, base, root, full)
  fams = families(runs)
  targets = "; ".join(
    f"{subset_label(n)}: {_pair(t.pair)} → {t.third}, control {_pair(t.control)}" for n, t in ROUND2_TARGETS.items()
  )
  text = [
    '## 0b. Confirmatory round 2: the pair test in the 1-epoch regime (preregistered: `PLAN.md`, "Round 2")',
    "",
    f"Fresh seeds: {{6,8,9}} {plan.seeds[0]}-{plan.seeds[-1]}, {{1,4,7}} and {{3,6,7}}"
    f" {plan.other_seeds[0]}-{plan.other_seeds[-1]}; regime e1 (one epoch, inputs in [0, 1]). Targets by the"
    f" 1-epoch ERM judge ({targets}). F7 and F8 are **confirmatory**, Holm-adjusted within each family"
    " (familywise α = 0.05); everything else in this section is exploratory. Round 1's exploratory 1-epoch pair"
    " cell (section 0, seeds 100-109) is the lead this round tests.",
    "",
  ]
  for family, tests in fams.items():
    missing = sum(t.result is None for t in tests)
    note = f"\n\n**Incomplete: {missing} of {len(tests)} tests not run; Holm over the rest.**" if missing else ""
    text += [f"### {FAMILY_LABELS[family]}", "", family_table(tests) + note, ""]
    text += nulls_table(tests)
  text += [
    "### Round 2, test-set sampling error: two-way bootstrap (seeds × test images, 2,000 resamples)",
    "",
    markdown_table(["difference, pp [95% percentile interval]"], _bootstrap_rows(runs)),
    "",
    *_shares(full),
  ]
  rows, figure = class_rows(runs)
  text += [
    "### Round 2, per-class test error (exploratory)",
    "",
    "pp [paired 95% CI] per class; figure `round2_classes.png` (against Mixup).",
    "",
    markdown_table(["class: difference"], rows),
    "",
    *_exploratory(runs),
  ]
  erm = {name for name in runs.missing if "-erm-" in name}
  if erm:
    text += [
      "The exploratory ERM phase is not saved (PLAN.md: it runs last, and only if the confirmatory phases end"
      ' within 70 minutes of the launch), so the rows against ERM read "not run".',
      "",
    ]
  elif plan.name == "full":
    text += [
      "The exploratory ERM phase was not run in round 2's session (its 70-minute stop rule); it was run later,"
      " unchanged, under PLAN.md's round-3 amendment. It enters only the rows against ERM.",
      "",
    ]
  missing = runs.missing - erm
  text += incomplete_note(missing, "round-2 runs not saved", "run `science_main.py --round=confirm2` again")
  if figure:
    _figure(figure, root)
  return "\n".join(text), missing
