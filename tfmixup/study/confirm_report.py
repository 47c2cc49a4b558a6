"""The confirmatory round's report: the families of `results/science/PLAN.md`, Holm-adjusted, and what is exploratory.

Every number here comes from the saved runs of `confirm.phases`; the plan
(hypotheses, endpoints, families, seeds) is `results/science/PLAN.md`,
committed before the runs. Each family's p-values are Holm-adjusted over
the tests it has; a test reads "as predicted" (adjusted p < 0.05, in the
direction intrusion predicts), "opposite to the prediction" (adjusted
p < 0.05, the other way) or "inconclusive", with the interval that says
which effects it excludes. "As predicted" is not proof of intrusion: F1
and F2 are what intrusion predicts, but other causes predict them too;
F3-F5 are the tests that separate them.
"""

import dataclasses
import os
from collections.abc import Callable, Sequence

import numpy as np

from tfmixup import training
from tfmixup.config import TrainConfig
from tfmixup.study import confirm, regimes, science, statistics
from tfmixup.study.confirm import REGIME, TARGETS, Round
from tfmixup.study.regimes import SUBSETS
from tfmixup.study.tables import incomplete_note, interval_pp, markdown_table, subset_label

ARM_LABELS = {
  "erm": "ERM",
  "mixup": "Mixup",
  "mixup_filtered": "Mixup, flagged mixes dropped",
  "mixup_random_drop": "Mixup, matched random drop",
  "pair_excluded": "Mixup, top pair excluded",
  "matched_excluded": "Mixup, control pair excluded",
}
ALPHA = 0.05


@dataclasses.dataclass
class ConfirmRuns:
  """The round's saved runs, read on demand; `missing` collects run names not saved."""

  plan: Round
  base: TrainConfig
  root: str
  full: training.SplitData
  missing: set = dataclasses.field(default_factory=set)
  _read: dict = dataclasses.field(default_factory=dict)  # cells read so far (the sections share them)

  def cell(self, name: str, arm: str, seeds: Sequence[int], regime: str = REGIME) -> list[dict] | None:
    """The saved runs of one arm by seed (read once), or None if one is missing (noted in `missing`)."""
    key = (name, arm, tuple(seeds), regime)
    if key not in self._read:
      self._read[key] = self._load(name, arm, seeds, regime)
    return self._read[key]

  def _load(self, name: str, arm: str, seeds: Sequence[int], regime: str) -> list[dict] | None:
    classes = SUBSETS.get(name, tuple(int(c) for c in name) if name != "all" else None)
    method, exclude = arm, ()
    if arm in ("pair_excluded", "matched_excluded"):
      method, exclude = "mixup", confirm.pair_arms(TARGETS[name])[arm]
    jobs = confirm.cell(
      self.plan,
      self.base,
      self.root,
      classes=classes,
      method=method,
      seeds=tuple(seeds),
      exclude=exclude,
      regime=regime,
    )
    return science.saved_runs(jobs, self.root, self.missing)


def accuracy(r: dict) -> float:
  return r["test_accuracy"]


def third_error(label: int) -> Callable[[dict], float]:
  return lambda r: statistics.class_error(r, label)


# PLAN.md's minimum detectable effects (80% power), pp, at Holm's strictest step (α/m) and at α, by
# (family, subset, endpoint); `tests/test_confirm.py` checks them against PLAN.md's tables. F5's second
# test had none planned; F6's planned row covers both of its tests.
PLANNED_MDE: dict[tuple[str, str, str], tuple[float, float]] = {
  ("F1", "689", "accuracy"): (0.68, 0.55),
  ("F1", "147", "accuracy"): (0.39, 0.32),
  ("F1", "367", "accuracy"): (0.56, 0.46),
  ("F1", "014", "accuracy"): (0.34, 0.27),
  ("F2", "689", "error"): (1.95, 1.57),
  ("F2", "147", "error"): (1.19, 0.96),
  ("F2", "367", "error"): (1.52, 1.23),
  ("F2", "014", "error"): (0.53, 0.42),
  ("F3", "689", "accuracy"): (0.42, 0.31),
  ("F3", "689", "error"): (1.47, 1.08),
  ("F3", "147", "accuracy"): (0.12, 0.09),
  ("F3", "147", "error"): (0.57, 0.41),
  ("F3", "367", "accuracy"): (0.51, 0.36),
  ("F3", "367", "error"): (1.40, 0.99),
  ("F3", "014", "accuracy"): (0.27, 0.19),
  ("F3", "014", "error"): (0.85, 0.61),
  ("F4", "689", "accuracy"): (0.53, 0.39),
  ("F4", "689", "error"): (1.87, 1.38),
  ("F4", "147", "accuracy"): (0.12, 0.09),
  ("F4", "147", "error"): (0.55, 0.41),
  ("F4", "367", "accuracy"): (0.49, 0.36),
  ("F4", "367", "error"): (1.34, 0.99),
  ("F5", "698", "error"): (2.69, 2.41),
  ("F6", "689", "accuracy"): (1.21, 1.08),
  ("F6", "147", "accuracy"): (1.21, 1.08),
  # Round 2 (PLAN.md, "Round 2: the 1-epoch pair test").
  ("F7", "689", "accuracy"): (0.29, 0.22),
  ("F7", "689", "error"): (1.15, 0.88),
  ("F7", "147", "accuracy"): (0.38, 0.28),
  ("F7", "147", "error"): (1.51, 1.12),
  ("F7", "367", "accuracy"): (0.75, 0.55),
  ("F7", "367", "error"): (1.51, 1.12),
  ("F8", "689", "accuracy"): (0.14, 0.10),
  ("F8", "689", "error"): (0.56, 0.43),
  ("F8", "147", "accuracy"): (0.18, 0.13),
  ("F8", "147", "error"): (0.74, 0.55),
  ("F8", "367", "accuracy"): (0.18, 0.13),
  ("F8", "367", "error"): (0.74, 0.55),
}


@dataclasses.dataclass
class Test:
  """One planned test: its label, predicted sign (+1, -1, 0: none), and result (None: runs missing).

  `key` is (subset, "accuracy" or "error"), its row of the plan's MDE table; `m` the family's size
  (set by `finish_family`, as are `adjusted` and `planned`).
  """

  family: str
  label: str
  predicted: int
  result: dict | None
  adjusted: float = float("nan")
  key: tuple[str, str] | None = None
  m: int = 1
  planned: tuple[float, float] | None = None

  def verdict(self) -> str:
    r = self.result
    if r is None:
      return "not run"
    excluded = f"excludes effects outside [{100 * r['low']:+.2f}, {100 * r['high']:+.2f}] pp"
    if self.adjusted < ALPHA and self.predicted and np.sign(r["mean"]) == self.predicted:
      return "as predicted"
    if self.adjusted < ALPHA and self.predicted:
      return "opposite to the prediction"
    if self.adjusted < ALPHA:
      return "a difference (none predicted)"
    return f"inconclusive: {excluded}"

  def is_null(self) -> bool:
    """Run, and not significant after Holm."""
    return self.result is not None and not self.adjusted < ALPHA

  def excludes(self) -> str:
    """The effect the 95% interval rules out, in the predicted direction (both ways if none is predicted)."""
    r = self.result
    if self.predicted > 0:
      return f"> {100 * r['high']:+.2f}"
    if self.predicted < 0:
      return f"< {100 * r['low']:+.2f}"
    return f"outside [{100 * r['low']:+.2f}, {100 * r['high']:+.2f}]"

  def observed_mde(self) -> tuple[float, float]:
    """The MDE (80% power) at the observed SD and these seeds, pp: at α/m (Holm's strictest step) and at α."""
    r = self.result
    return tuple(100 * statistics.mde(r["se"], r["df"], alpha) for alpha in (ALPHA / self.m, ALPHA))


def _holm(tests: list[Test]) -> None:
  done = [t for t in tests if t.result is not None]
  for t, p in zip(done, statistics.holm([t.result["p"] for t in done]), strict=True):
    t.adjusted = p


def finish_family(tests: list[Test]) -> None:
  """Holm over the tests the family has; its size (the plan's m) and each test's planned MDE."""
  _holm(tests)
  for t in tests:
    t.m = len(tests)
    t.planned = PLANNED_MDE.get((t.family, *t.key)) if t.key else None


def families(runs: ConfirmRuns) -> dict[str, list[Test]]:
  """F1-F6 of the plan, each Holm-adjusted over the tests it has."""
  plan = runs.plan
  out: dict[str, list[Test]] = {}

  def paired(family, label, predicted, name, treated, control, outcome, seeds):  # noqa: PLR0917 - one planned test
    t, c = runs.cell(name, treated, seeds), runs.cell(name, control, seeds)
    result = None if t is None or c is None else statistics.paired(t, c, outcome)
    key = (name, "accuracy" if outcome is accuracy else "error")
    out.setdefault(family, []).append(Test(family, label, predicted, result, key=key))

  for name in TARGETS:
    paired("F1", f"{subset_label(name)}: Mixup − ERM, accuracy", -1, name, "mixup", "erm", accuracy, plan.seeds)
  for name, target in TARGETS.items():
    label = f"{subset_label(name)}: Mixup − ERM, class-{target.third} error"
    paired("F2", label, +1, name, "mixup", "erm", third_error(target.third), plan.seeds)
  for name, target in TARGETS.items():
    seeds = plan.seeds if name == "689" else plan.filter_seeds
    pre = f"{subset_label(name)}: dropped − control"
    paired("F3", f"{pre}, accuracy", +1, name, "mixup_filtered", "mixup_random_drop", accuracy, seeds)
    paired(
      "F3",
      f"{pre}, class-{target.third} error",
      -1,
      name,
      "mixup_filtered",
      "mixup_random_drop",
      third_error(target.third),
      seeds,
    )
  for name in confirm.PAIR_SUBSETS:
    target = TARGETS[name]
    (a, b), (c, d) = target.pair, target.control
    pre = f"{subset_label(name)}: without {a}+{b} − without {c}+{d}"
    paired("F4", f"{pre}, accuracy", +1, name, "pair_excluded", "matched_excluded", accuracy, plan.pair_seeds)
    paired(
      "F4",
      f"{pre}, class-{target.third} error",
      -1,
      name,
      "pair_excluded",
      "matched_excluded",
      third_error(target.third),
      plan.pair_seeds,
    )

  def penalty(name, outcome, seeds) -> np.ndarray | None:
    m, e = runs.cell(name, "mixup", seeds), runs.cell(name, "erm", seeds)
    return None if m is None or e is None else statistics.per_seed(m, e, outcome)

  k, (a, b) = regimes.SWAP_K, regimes.SWAP_PAIR
  for (first, third_1), (second, third_2), predicted in (
    (("689", 8), (f"69{k}", k), +1),
    ((f"{a}{b}8", 8), (f"{a}{b}{k}", k), 0),
  ):
    seeds_1 = plan.seeds if first == "689" else plan.pair_seeds
    p1, p2 = penalty(first, third_error(third_1), seeds_1), penalty(second, third_error(third_2), plan.pair_seeds)
    label_1 = "{6,9,8}" if first == "689" else subset_label(first)
    label = f"class-{third_1} error penalty in {label_1} − class-{third_2}'s in {subset_label(second)}"
    result = None if p1 is None or p2 is None else statistics.welch(p1, p2)
    key = ("698", "error") if first == "689" else None
    out.setdefault("F5", []).append(Test("F5", label, predicted, result, key=key))
  mnist = penalty("all", accuracy, plan.mnist_seeds)
  for name in ("689", "147"):
    sub = penalty(name, accuracy, plan.seeds)
    result = None if sub is None or mnist is None else statistics.welch(sub, mnist)
    label = f"accuracy penalty, {subset_label(name)} − MNIST"
    out.setdefault("F6", []).append(Test("F6", label, -1, result, key=(name, "accuracy")))
  for tests in out.values():
    finish_family(tests)
  return out


FAMILY_LABELS = {
  "F1": "F1, the penalty: Mixup − ERM, test accuracy (predicted < 0)",
  "F2": "F2, the signature: Mixup − ERM, the third class's test error (predicted > 0)",
  "F3": "F3, flag-level cause: flagged mixes dropped − matched random drop"
  " (predicted: accuracy > 0, third-class error < 0)",
  "F4": "F4, pair-level cause: top pair excluded − control pair excluded"
  " (predicted: accuracy > 0, third-class error < 0)",
  "F5": "F5, the swap: third-class error penalties of two triples (Welch; predicted: first > 0, second none)",
  "F6": "F6, subset vs MNIST: accuracy penalties (Welch; predicted < 0: the subset loses more)",
}


def family_table(tests: list[Test]) -> str:
  rows = []
  for t in tests:
    if t.result is None:
      rows.append((t.label, ["not run", "", "", "", "not run"]))
      continue
    r = t.result
    rows.append((t.label, [interval_pp(r), str(r["n"]), f"{r['p']:.3g}", f"{t.adjusted:.3g}", t.verdict()]))
  return markdown_table(["difference, pp [95% CI]", "seeds", "p", "Holm p", "reading"], rows)


def nulls_table(tests: list[Test]) -> list[str]:
  """For each null of a family: the effect its 95% interval excludes, the MDE reached, the MDE planned ([] if none)."""
  rows = []
  for t in tests:
    if not t.is_null():
      continue
    reached = "{:.2f} / {:.2f}".format(*t.observed_mde())
    planned = "{:.2f} / {:.2f}".format(*t.planned) if t.planned else "none planned"
    rows.append((t.label, [t.excludes(), f"{100 * t.result['se']:.2f}", reached, planned]))
  if not rows:
    return []
  columns = ["excludes a true effect, pp", "SE (pp)", "MDE at the observed SD, α/m / α", "planned MDE, α/m / α"]
  return [
    "What each null excludes (95% interval, in the predicted direction) and the minimum detectable effect"
    f" (80% power, pp) it reached, at Holm's strictest step (α/{len(tests)}) and at α, next to the plan's:",
    "",
    markdown_table(columns, rows),
    "",
  ]


def paired_bootstrap(full: training.SplitData, t: list[dict], c: list[dict], third: int | None) -> str:
  """Two-way (seeds × test images) bootstrap of treated - control: accuracy, or `third`'s error if given.

  Args:
    full: the dataset with every class (to recover the runs' test labels).
    t: the treated runs, by seed; c: the control runs of the same seeds.
    third: a class label, or None for overall accuracy.

  Returns:
    The interval in pp with the number of test images, or why there is none.
  """
  preds = [training.decode_predictions(r) for r in (*t, *c)]
  labels = true_test_labels(full, t[0])
  if any(p is None for p in preds) or labels is None:
    return "no per-image predictions"
  by_seed = {r["config"]["seed"]: p for r, p in zip(c, preds[len(t) :], strict=True)}
  pt = np.stack(preds[: len(t)])
  pc = np.stack([by_seed[r["config"]["seed"]] for r in t])  # paired by seed
  keep = np.ones(len(labels), bool) if third is None else labels == _index(t[0], third)
  sign = 1.0 if third is None else -1.0  # errors, not correct answers, for a class's error rate
  diff = sign * ((pt[:, keep] == labels[keep]).astype(float) - (pc[:, keep] == labels[keep]).astype(float))
  return interval_pp(statistics.two_way_bootstrap(diff)) + f" ({keep.sum()} test images)"


def true_test_labels(full: training.SplitData, result: dict) -> np.ndarray | None:
  """The true labels of a run's test images, as the run saw them (None if the sizes disagree)."""
  labels = training.data_for(TrainConfig.from_dict(result["config"]), full).test.labels
  return labels if len(labels) == result["test_examples"] else None


def _bootstrap_rows(runs: ConfirmRuns) -> list:
  """Two-way (seeds × test images) bootstrap intervals of the headline comparisons (F1, F2, F4)."""
  rows = []
  plan = runs.plan

  def add(label: str, name: str, treated: str, control: str, seeds, third: int | None) -> None:  # noqa: PLR0917
    t, c = runs.cell(name, treated, seeds), runs.cell(name, control, seeds)
    rows.append((label, ["not run" if t is None or c is None else paired_bootstrap(runs.full, t, c, third)]))

  for name, target in TARGETS.items():
    add(f"F1 {subset_label(name)}: Mixup − ERM, accuracy", name, "mixup", "erm", plan.seeds, None)
    add(
      f"F2 {subset_label(name)}: Mixup − ERM, class-{target.third} error",
      name,
      "mixup",
      "erm",
      plan.seeds,
      target.third,
    )
  for name in confirm.PAIR_SUBSETS:
    target = TARGETS[name]
    add(
      f"F4 {subset_label(name)}: pair − control excluded, accuracy",
      name,
      "pair_excluded",
      "matched_excluded",
      plan.pair_seeds,
      None,
    )
    add(
      f"F4 {subset_label(name)}: pair − control excluded, class-{target.third} error",
      name,
      "pair_excluded",
      "matched_excluded",
      plan.pair_seeds,
      target.third,
    )
  return rows


def _index(result: dict, label: int) -> int:
  return [str(c) for c in result["class_names"]].index(str(label))


def class_delta_rows(
  runs: ConfirmRuns, arms: Sequence[str], regime: str = REGIME, names=tuple(TARGETS)
) -> tuple[list, dict]:
  """Per-class test error, arm − ERM (pp, paired 95% CI), for each subset; also the intervals for the figure."""
  rows, figure = [], {}
  for name in names:
    seeds = runs.plan.pair_seeds if regime != REGIME else runs.plan.seeds
    for arm in arms:
      arm_seeds = seeds
      if arm in ("mixup_filtered", "mixup_random_drop") and name != "689":
        arm_seeds = runs.plan.filter_seeds
      if arm in ("pair_excluded", "matched_excluded"):
        if name not in confirm.PAIR_SUBSETS:
          continue
        arm_seeds = runs.plan.pair_seeds
      t, e = runs.cell(name, arm, arm_seeds, regime), runs.cell(name, "erm", arm_seeds, regime)
      if t is None or e is None:
        rows.append((f"{subset_label(name)} {ARM_LABELS[arm]}", ["not run"]))
        continue
      classes = [str(c) for c in t[0]["class_names"]]
      cells = []
      for k, c in enumerate(classes):
        i = statistics.paired(t, e, lambda r, k=k: statistics.class_errors(r)[k])
        figure[(name, arm, c)] = i
        cells.append(f"{c}: {interval_pp(i)}")
      rows.append((f"{subset_label(name)} {ARM_LABELS[arm]} ({len(t)} seeds)", ["; ".join(cells)]))
  return rows, figure


def _exploratory(runs: ConfirmRuns) -> list[str]:
  plan = runs.plan
  rows = []
  for name, target in TARGETS.items():
    seeds = plan.seeds if name == "689" else plan.filter_seeds
    t, m = runs.cell(name, "mixup_filtered", seeds), runs.cell(name, "mixup", seeds)
    if t is not None and m is not None:
      acc = statistics.paired(t, m, accuracy)
      err = statistics.paired(t, m, third_error(target.third))
      rows.append((f"{subset_label(name)}: dropped − Mixup", [interval_pp(acc), interval_pp(err)]))
  m, e = runs.cell("all", "mixup", plan.mnist_seeds), runs.cell("all", "erm", plan.mnist_seeds)
  if m is not None and e is not None:  # (F6's reference)
    rows.append(("MNIST: Mixup − ERM", [interval_pp(statistics.paired(m, e, accuracy)), "—"]))
  for name in confirm.PAIR_SUBSETS:
    target = TARGETS[name]
    for arm in ("pair_excluded", "matched_excluded"):
      for ref in ("mixup", "erm"):
        t, r = runs.cell(name, arm, plan.pair_seeds), runs.cell(name, ref, plan.pair_seeds)
        if t is not None and r is not None:
          acc = statistics.paired(t, r, accuracy)
          err = statistics.paired(t, r, third_error(target.third))
          rows.append(
            (f"{subset_label(name)}: {ARM_LABELS[arm]} − {ARM_LABELS[ref]}", [interval_pp(acc), interval_pp(err)])
          )
  e1 = []
  target = TARGETS["689"]
  for treated, control in (
    ("pair_excluded", "matched_excluded"),
    ("mixup", "erm"),
    ("pair_excluded", "mixup"),
    ("matched_excluded", "mixup"),
  ):
    t, c = runs.cell("689", treated, plan.pair_seeds, "e1"), runs.cell("689", control, plan.pair_seeds, "e1")
    if t is None or c is None:
      e1.append((f"{ARM_LABELS[treated]} − {ARM_LABELS[control]}", ["not run", "not run"]))
      continue
    acc = statistics.paired(t, c, accuracy)
    err = statistics.paired(t, c, third_error(target.third))
    e1.append(
      (
        f"{ARM_LABELS[treated]} − {ARM_LABELS[control]}",
        [f"{interval_pp(acc)} (p {acc['p']:.2g})", f"{interval_pp(err)} (p {err['p']:.2g})"],
      )
    )
  return [
    "### Exploratory (not in the plan's families: no correction)",
    "",
    "Raw regime, fresh seeds; test accuracy and the third class's test error, pp [paired 95% CI]:",
    "",
    markdown_table(["accuracy", "third-class error"], rows),
    "",
    "The pair test in the 1-epoch regime (normalized inputs), {6,8,9},"
    f" seeds {plan.pair_seeds[0]}-{plan.pair_seeds[-1]}:",
    "",
    markdown_table(["accuracy", "class-8 error"], e1),
    "",
  ]


def _shares(full: training.SplitData) -> list[str]:
  """The share of Mixup's mixes each exclusion removes (from the training split's class sizes)."""
  rows = []
  for name in confirm.PAIR_SUBSETS:
    target = TARGETS[name]
    sizes = {c: int(np.sum(full.train.labels == full.train.source_classes.index(c))) for c in SUBSETS[name]}
    total = sum(sizes.values())
    share = {p: 2 * sizes[p[0]] * sizes[p[1]] / total**2 for p in (target.pair, target.control)}
    rows.append(
      (
        subset_label(name),
        [
          f"{target.pair[0]}+{target.pair[1]}: {100 * share[target.pair]:.1f}%",
          f"{target.control[0]}+{target.control[1]}: {100 * share[target.control]:.1f}%",
        ],
      )
    )
  return [
    "Mixes each exclusion removes (expected share of one epoch's pairs, from the class sizes):",
    "",
    markdown_table(["top pair excluded", "control pair excluded"], rows),
    "",
  ]


def draw_class_deltas(ax, figure: dict, name: str, arms, third: int, spacing: float, first_color: int) -> None:  # noqa: PLR0913, PLR0917
  """One panel of per-class error deltas: per class of subset `name`, each arm's paired interval (`figure`'s).

  Args:
    figure: `{(subset, arm, class): {"mean", "low", "high"}}` (fractions).
    arms: the arms, side by side around each class (`spacing` apart), colours C`first_color`, C`first_color + 1`, ...
    third: the subset's third class (marked on its tick).
  """
  classes = [c for n, a, c in figure if n == name and a == arms[0]]
  centre = (len(arms) - 1) / 2
  for j, arm in enumerate(arms):
    for k, c in enumerate(classes):
      i = figure.get((name, arm, c))
      if i is None:
        continue
      ax.errorbar(
        k + (j - centre) * spacing,
        100 * i["mean"],
        yerr=[[100 * (i["mean"] - i["low"])], [100 * (i["high"] - i["mean"])]],
        fmt="o",
        ms=3,
        color=f"C{j + first_color}",
        label=ARM_LABELS[arm] if k == 0 else None,
      )
  ax.axhline(0, color="grey", lw=0.8)
  ax.set_xticks(
    range(len(classes)), [f"class {c}" + (" (third)" if c == str(third) else "") for c in classes], fontsize=7
  )


def _figure(figure: dict, root: str) -> None:
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415

  arms = ("mixup", "mixup_filtered", "mixup_random_drop", "pair_excluded", "matched_excluded")
  fig, axes = plt.subplots(1, len(TARGETS), figsize=(4 * len(TARGETS), 3.4), sharey=True)
  for ax, name in zip(axes, TARGETS, strict=True):
    draw_class_deltas(ax, figure, name, arms, TARGETS[name].third, spacing=0.15, first_color=0)
    ax.set_title(f"{subset_label(name)}, raw regime")
  axes[0].set_ylabel("test error − ERM's, pp (paired 95% CI)")
  axes[0].legend(fontsize=6, loc="upper left")  # the first panel has every arm
  fig.tight_layout()
  fig.savefig(os.path.join(root, "confirm_classes.png"), dpi=120)
  plt.close(fig)


def section(plan: Round, base: TrainConfig, root: str, full: training.SplitData) -> tuple[str, set]:
  """The report's "Confirmatory round" section (and the figure `confirm_classes.png`); returns it and the missing runs.

  Args:
    full: the dataset with every class, both splits whole (runs' splits are cut from it).
  """
  runs = ConfirmRuns(plan, base, root, full)
  fams = families(runs)
  text = [
    "## 0. The confirmatory round (preregistered: `results/science/PLAN.md`)",
    "",
    f"Fresh seeds {plan.seeds[0]}-{plan.seeds[-1]} (F3 on the other subsets, F4 and the swap:"
    f" {plan.filter_seeds[0]}-{plan.filter_seeds[-1]}; MNIST {plan.mnist_seeds[0]}-{plan.mnist_seeds[-1]}),"
    " raw regime (one epoch, 0-255 inputs). Everything in this subsection's family tables is **confirmatory**;"
    " the sections after it (seeds 0-4, the session grid) and the tables marked exploratory are **exploratory**."
    ' Holm-adjusted within each family (familywise α = 0.05); "excludes effects outside [a, b]" is the 95%'
    " interval: a true effect beyond it is unlikely, one inside it is not ruled out.",
    "",
  ]
  for family, tests in fams.items():
    missing = sum(t.result is None for t in tests)
    note = f" **Incomplete: {missing} of {len(tests)} tests not run; Holm over the rest.**" if missing else ""
    text += [f"### {FAMILY_LABELS[family]}", "", family_table(tests) + ("\n\n" + note.strip() if note else ""), ""]
    text += nulls_table(tests)
  text += [
    "### Test-set sampling error: two-way bootstrap (seeds × test images, 2,000 resamples)",
    "",
    markdown_table(["difference, pp [95% percentile interval]"], _bootstrap_rows(runs)),
    "",
    *_shares(full),
  ]
  rows, figure = class_delta_rows(
    runs, ("mixup", "mixup_filtered", "mixup_random_drop", "pair_excluded", "matched_excluded")
  )
  text += [
    "### Per-class test error, arm − ERM (raw regime, fresh seeds; exploratory beyond F2)",
    "",
    "pp [paired 95% CI] per class; figure `confirm_classes.png`.",
    "",
    markdown_table(["class: difference"], rows),
    "",
    *_exploratory(runs),
  ]
  text += incomplete_note(runs.missing, "confirmatory runs not saved", "run `science_main.py --round=confirm` again")
  if figure:
    _figure(figure, root)
  return "\n".join(text), runs.missing
