"""The science report: sweep, causal and swap tables with paired 95% intervals, intrusion, figures.

Every comparison pairs runs by seed (same seed: same initial weights and
first-stream order), and is given both ways: the absolute difference in
test accuracy (percentage points) and the ratio of test errors (Mixup's
error / ERM's, a geometric mean over seeds with a t interval on the log
scale). Differences between datasets (a subset's penalty minus MNIST's)
compare independent runs: Welch intervals. No correlation over a handful
of datasets is computed: with 4-5 points it cannot carry a conclusion.
"""

import csv
import dataclasses
import functools
import json
import os
from collections.abc import Sequence

import numpy as np

from tfmixup import outputs, training
from tfmixup.config import TrainConfig
from tfmixup.study import (
  confirm,
  confirm_report,
  intrusion,
  judges,
  paper,
  regimes,
  round2_report,
  science,
  statistics,
  study_like,
  study_like_report,
)
from tfmixup.study.regimes import REGIMES, SUBSETS, Preset
from tfmixup.study.tables import NOT_RUN, incomplete_note, interval_pp, markdown_table, subset_label
from tfmixup.study.tables import mean_train_test as _train_test

METHOD_LABELS = {
  "erm": "ERM (without)",
  "mixup": "Mixup",
  "mixup_filtered": "Mixup, intruding mixes dropped",
  "mixup_relabeled": "Mixup, intruding mixes relabelled",
  "mixup_random_drop": "Mixup, matched random drop (control)",
  "adamixup": "AdaMixUp",
  "mixup_clean_half": "Mixup + clean half (AdaMixUp's control)",
  "manifold_mixup": "Manifold Mixup",
}


def _ratio(i: dict) -> str:
  return f"{i['mean']:.2f} [{i['low']:.2f}, {i['high']:.2f}]"


@dataclasses.dataclass
class Runs:
  """Saved results of the grid, read on demand."""

  preset: Preset
  base: TrainConfig
  root: str
  missing: set = dataclasses.field(default_factory=set)

  @functools.cached_property
  def cache(self) -> "_Cache":
    """The intrusion measurements, `<root>/intrusion.json` (read once per report)."""
    return _Cache(os.path.join(self.root, "intrusion.json"))

  def cell(
    self, regime: str, name: str, method: str, seeds: Sequence[int] | None = None, classes=None
  ) -> list[dict] | None:
    """The runs of one cell, in seed order (ERM from the regime it shares).

    Returns:
      The runs, or None if one is not saved (noted in `missing`).
    """
    classes = SUBSETS[name] if classes is None else classes
    jobs = science.cell_jobs(
      self.preset, self.base, self.root, regime=regime, classes=classes, method=method, seeds=seeds
    )
    return science.saved_runs(jobs, self.root, self.missing)


def sweep_section(runs: Runs) -> tuple[str, dict]:
  preset = runs.preset
  names = [n for n in SUBSETS if any(n in ns for _, ns in preset.sweep)]
  erm_rows, pen_rows, ratio_rows, contrast_rows, heat = [], [], [], [], {}
  for regime, ns in preset.sweep:
    label = f"{regime}: {REGIMES[regime].label}"
    erm, pen, ratio = [], [], []
    penalties = {}
    for name in names:
      if name not in ns:
        erm.append("")
        pen.append("")
        ratio.append("")
        continue
      e, m = runs.cell(regime, name, "erm"), runs.cell(regime, name, "mixup")
      if e is None or m is None:
        erm.append(NOT_RUN if e is None else _train_test(e))
        pen.append(NOT_RUN)
        ratio.append(NOT_RUN)
        continue
      erm.append(_train_test(e))
      d = statistics.paired(m, e)
      penalties[name] = statistics.per_seed(m, e, "test_accuracy")
      heat[(regime, name)] = d
      pen.append(interval_pp(d))
      ratio.append(_ratio(statistics.error_ratio(m, e)))
    if not REGIMES[regime].erm_from:
      erm_rows.append((label, erm))
    pen_rows.append((label, pen))
    ratio_rows.append((label, ratio))
    if "all" in penalties:
      contrast_rows.append(
        (
          label,
          [
            interval_pp(statistics.welch(penalties[n], penalties["all"])) if n in penalties else ""
            for n in names
            if n != "all"
          ],
        )
      )
  columns = [subset_label(n) for n in names]
  study_erm = ", ".join(
    f"{subset_label(n)} {train:.1f} ({test:.1f})" for n, (train, test) in paper.TABLE1["erm"].items()
  )
  study_penalty = ", ".join(f"{subset_label(n)} {paper.mixup_penalty(n):.1f}".replace("-", "−") for n in paper.DATASETS)
  text = [
    "## 1. The regime sweep",
    "",
    f"ERM (no mixing): train (test) accuracy, %, mean over seeds. The study's ERM: {study_erm}.",
    "",
    markdown_table(columns, erm_rows),
    "",
    "Mixup − ERM, test accuracy, percentage points, mean and paired 95% CI over seeds"
    f" (negative: Mixup costs accuracy). The study: {study_penalty}.",
    "",
    markdown_table(columns, pen_rows),
    "",
    "Mixup's test error / ERM's (geometric mean over seeds, 95% CI; > 1: Mixup has more errors).",
    "",
    markdown_table(columns, ratio_rows),
    "",
    "A subset's penalty minus MNIST's (pp, Welch 95% CI; negative: Mixup costs the subset more than MNIST).",
    "",
    markdown_table([subset_label(n) for n in names if n != "all"], contrast_rows),
    "",
  ]
  return "\n".join(text), heat


def closest_regime(runs: Runs) -> tuple[str, dict]:
  """The sweep regime whose ERM test accuracies are closest to the study's.

  The distance is the mean |ours − study's| over the study's datasets the
  regime has (MNIST, {6,8,9}, {1,4,7}; at least the two subsets), so a
  regime without full-MNIST runs is a candidate too.
  """
  distance = {}
  for regime, ns in runs.preset.sweep:
    names = [n for n in paper.DATASETS if n in ns]
    if REGIMES[regime].erm_from or not set(regimes.STUDY_SUBSETS) <= set(names):
      continue
    cells = {n: runs.cell(regime, n, "erm") for n in names}
    if all(c is not None for c in cells.values()):
      distance[regime] = float(
        np.mean([abs(np.mean([r["test_accuracy"] for r in cells[n]]) - paper.test_accuracy("erm", n)) for n in names])
      )
  return (min(distance, key=distance.get) if distance else None), distance


def class_section(runs: Runs, chosen: dict) -> str:
  """Per-class test error deltas against ERM (paired by seed) for every sweep and causal cell (exploratory)."""
  preset = runs.preset
  cells = [(regime, name, "mixup") for regime, names in preset.sweep for name in names]
  plan = {preset.standard: preset.causal_methods}
  plan[chosen["worst"]] = tuple(sorted(set(plan.get(chosen["worst"], ())) | set(preset.causal_methods_worst)))
  for regime, methods in plan.items():
    for method in methods:
      for name in regimes.CAUSAL_SUBSETS:
        if method not in regimes.ADA_METHODS or name in preset.ada_subsets:
          cells.append((regime, name, method))
  rows = []
  for regime, name, method in cells:
    treated, erm = runs.cell(regime, name, method), runs.cell(regime, name, "erm")
    label = f"{regime} {subset_label(name)} {METHOD_LABELS[method]}"
    if treated is None or erm is None:
      rows.append((label, [NOT_RUN]))
      continue
    if any(r.get("test_confusion") is None for r in [*treated, *erm]):
      rows.append((label, ["no per-class counts (runs saved before test_confusion was recorded)"]))
      continue
    deltas = statistics.per_seed(treated, erm, statistics.class_errors)  # [seeds, classes]
    names = [str(c) for c in treated[0]["class_names"]]
    rows.append(
      (label, ["; ".join(f"{c}: {interval_pp(statistics.t_interval(deltas[:, k]))}" for k, c in enumerate(names))])
    )
  return "\n".join(
    [
      "## 5. Per-class test error against ERM (exploratory)",
      "",
      "Each class's test error rate, the method's run minus ERM's of the same seed, pp [paired 95% CI], seeds"
      f" {list(preset.seeds)}; from the runs' `test_confusion`.",
      "",
      markdown_table(["class: difference"], rows),
      "",
    ]
  )


def causal_section(runs: Runs, chosen: dict, full: training.SplitData) -> tuple[str, dict]:
  preset = runs.preset
  plan = {preset.standard: preset.causal_methods}
  plan[chosen["worst"]] = tuple(sorted(set(plan.get(chosen["worst"], ())) | set(preset.causal_methods_worst)))
  text, forest = ["## 2. Causal tests", ""], {}
  for regime, planned in plan.items():
    methods = [m for m in METHOD_LABELS if m in planned]
    columns = [subset_label(n) for n in regimes.CAUSAL_SUBSETS]
    rows_acc, rows_vs_mixup, rows_vs_erm, rows_key = [], [], [], []
    for method in ["erm", "mixup", *methods]:
      acc, vs_mixup, vs_erm = [], [], []
      for name in regimes.CAUSAL_SUBSETS:
        if method in regimes.ADA_METHODS and name not in preset.ada_subsets:  # not in this preset
          acc.append("—")
          vs_erm.append("—")
          vs_mixup.append("—")
          continue
        cell, erm, mixup = (runs.cell(regime, name, m) for m in (method, "erm", "mixup"))
        if cell is None or erm is None or mixup is None:
          acc.append(NOT_RUN if cell is None else _train_test(cell))
          vs_erm += [NOT_RUN] if method != "erm" else []
          vs_mixup += [NOT_RUN] if method not in ("erm", "mixup") else []
          continue
        acc.append(_train_test(cell))
        if method != "erm":
          d = statistics.paired(cell, runs.cell(regime, name, "erm"))
          vs_erm.append(
            f"{interval_pp(d)}; ×{statistics.error_ratio(cell, runs.cell(regime, name, 'erm'))['mean']:.2f}"
          )
          forest[(regime, name, method)] = d
        if method not in ("erm", "mixup"):
          vs_mixup.append(interval_pp(statistics.paired(cell, runs.cell(regime, name, "mixup"))))
      rows_acc.append((METHOD_LABELS[method], acc))
      if vs_erm:
        rows_vs_erm.append((METHOD_LABELS[method], vs_erm))
      if vs_mixup:
        rows_vs_mixup.append((METHOD_LABELS[method], vs_mixup))
    for treated, control, what in (
      ("mixup_filtered", "mixup_random_drop", "dropped intruders − matched random drop"),
      ("adamixup", "mixup_clean_half", "AdaMixUp − Mixup with the same clean half"),
    ):
      if treated in methods and control in methods:
        wanted = [n in preset.ada_subsets or treated not in regimes.ADA_METHODS for n in regimes.CAUSAL_SUBSETS]
        pairs = [
          (runs.cell(regime, n, treated), runs.cell(regime, n, control)) if p else None
          for n, p in zip(regimes.CAUSAL_SUBSETS, wanted, strict=True)
        ]
        cells = [
          "—" if pair is None else NOT_RUN if None in pair else interval_pp(statistics.paired(*pair)) for pair in pairs
        ]
        rows_key.append((what, cells))
    why = "standard regime" if regime == preset.standard else "the sweep regime with the largest study-subset penalty"
    text += [
      f"### {regime}: {REGIMES[regime].label} ({why})",
      "",
      "Train (test) accuracy, %:",
      "",
      markdown_table(columns, rows_acc),
      "",
      "Against ERM: test accuracy difference, pp [paired 95% CI]; ×: test error ratio.",
      "",
      markdown_table(columns, rows_vs_erm),
      "",
      "Against Mixup: test accuracy difference, pp [paired 95% CI].",
      "",
      markdown_table(columns, rows_vs_mixup),
      "",
      "The causal contrasts, pp [paired 95% CI]:",
      "",
      markdown_table(columns, rows_key),
      "",
      "What the filter's teacher (this regime's ERM model, seed"
      f" {regimes.TEACHER_SEED}) flags: % of one epoch of Mixup's mixes (α = {runs.base.alpha:g}, seed 0) judged"
      " neither source class (dropped by the filter; the control drops as many others).",
      "",
      markdown_table(columns, [("flagged", [_flagged(runs, full, regime, n) for n in regimes.CAUSAL_SUBSETS])]),
      "",
    ]
  return "\n".join(text), forest


def _flagged(runs: Runs, full: training.SplitData, regime: str, name: str) -> str:
  """The share of one epoch of Mixup's mixes that `regime`'s teacher for `name` flags (cached).

  The cache is read first: the teacher's model is needed only for a measurement not in it.
  """
  import keras  # noqa: PLC0415

  teacher = science.teacher_job(runs.preset, regime, runs.base, name)
  path = training.model_path(teacher.output_dir(runs.root), teacher.config)
  alpha = runs.base.alpha
  key = f"{name} {alpha:g} erm {path}"
  if key not in runs.cache and not os.path.exists(path):
    return NOT_RUN

  def measure() -> dict:
    train = training.data_for(teacher.config, full).train
    return intrusion.drawn_intrusion(train, judges.model_judge(keras.saving.load_model(path)), alpha=alpha)

  return f"{100 * runs.cache.get(key, measure)['rate']:.2f}"


class _Cache:
  """Measurements kept in a JSON file, so that writing the report again does not judge every mix again."""

  def __init__(self, path: str) -> None:
    self._path = path
    try:
      with open(path) as f:
        self._values = json.load(f)
    except (OSError, ValueError):
      self._values = {}

  def __contains__(self, key: str) -> bool:
    return key in self._values

  def get(self, key: str, compute):
    if key not in self._values:
      self._values[key] = compute()
      outputs.write_atomic(self._path, json.dumps(self._values, indent=1))
    return self._values[key]


def intrusion_section(runs: Runs, full: training.SplitData) -> str:
  """Intrusion on every dataset, over one epoch of the mixes Mixup draws at α = 0.2, 1, 4, judged two ways.

  The measurements are kept in `<root>/intrusion.json` by dataset, α, judge and teacher path, and read
  from there first: a teacher's model (not committed) is needed only to measure what the file lacks.
  """
  import keras  # noqa: PLC0415

  cache = runs.cache

  preset = runs.preset
  names = sorted({n for _, ns in preset.sweep for n in ns}, key=list(SUBSETS).index)
  alphas = (0.2, 1.0, 4.0)
  rows, pair_rows = [], []
  for name in names:
    config = dataclasses.replace(science.regime_config(preset, preset.standard, runs.base), classes=SUBSETS[name])
    train = training.data_for(config, full).train
    teacher = science.teacher_job(preset, preset.standard, runs.base, name)
    path = training.model_path(teacher.output_dir(runs.root), teacher.config)
    keys = {(alpha, k): f"{name} {alpha:g} {k} {path}" for alpha in alphas for k in ("erm", "nn")}
    if not all(key in cache for key in keys.values()) and not os.path.exists(path):
      runs.missing.add(f"{preset.standard}/{teacher.config.run_name} (model)")
      rows.append((subset_label(name), [NOT_RUN] * len(alphas)))
      continue
    by_judge = {  # built only if a measurement is not cached
      "erm": functools.cache(lambda path=path: judges.model_judge(keras.saving.load_model(path))),
      "nn": functools.cache(lambda train=train: judges.nearest_neighbour_judge(train)),
    }
    cells = []
    for alpha in alphas:
      measured = {
        k: cache.get(
          keys[(alpha, k)],
          lambda judge=judge, alpha=alpha, train=train: intrusion.drawn_intrusion(train, judge(), alpha=alpha),
        )
        for k, judge in by_judge.items()
      }
      cells.append(f"{100 * measured['erm']['rate']:.2f} / {100 * measured['nn']['rate']:.2f}")
      if name == "689" and alpha == 1.0:
        for by_erm, by_nn in zip(measured["erm"]["pairs"], measured["nn"]["pairs"], strict=True):
          pair_rows.append(
            (
              f"{by_erm['first']}+{by_erm['second']}",
              [f"{by_erm['mixes']}", f"{100 * by_erm['rate']:.2f}", f"{100 * by_nn['rate']:.2f}"],
            )
          )
    rows.append((f"{subset_label(name)} ({len(train.labels):,} mixes)", cells))
  return "\n".join(
    [
      "## 3. Intrusion, measured on the mixes Mixup draws",
      "",
      "Share of one epoch of Mixup's own mixes (its pairs and λ at that α, seed 0, same-class pairs included)"
      " that a judge assigns to neither source class, %: judged by an ERM model of the same dataset (seed"
      f" {regimes.TEACHER_SEED}, the filter's teacher, trained in {preset.standard}) / by the pixel-space nearest"
      " training image (`tfmixup.study.intrusion.drawn_intrusion`).",
      "",
      markdown_table([f"α = {a:g}" for a in alphas], rows),
      "",
      "{6,8,9} at α = 1 by class pair: mixes drawn, % intruding by the ERM judge, by the nearest neighbour.",
      "",
      markdown_table(["mixes", "ERM judge", "nearest neighbour"], pair_rows),
      "",
    ]
  )


def swap_section(runs: Runs, regime: str) -> tuple[str, dict]:
  seeds = runs.preset.swap_seeds
  subsets = science.swap_subsets()
  rows, err_rows, penalties, figure = [], [], {}, {}
  for key, classes in subsets.items():
    e = runs.cell(regime, key, "erm", seeds=seeds, classes=classes)
    m = runs.cell(regime, key, "mixup", seeds=seeds, classes=classes)
    if e is None or m is None:
      return f"## 4. The third-class swap ({regime})\n\nNot run (or not finished): see the list of missing runs.\n", {}
    penalties[key] = statistics.per_seed(m, e, "test_accuracy")
    figure[key] = statistics.paired(m, e)
    rows.append((f"{{{','.join(map(str, classes))}}}", [_train_test(e), _train_test(m), interval_pp(figure[key])]))

    def third_to_pair(r: dict) -> float:  # true third class (label 2) called the first or second
      c = np.array(r["test_confusion"])
      return (c[2, 0] + c[2, 1]) / c[2].sum()

    def pair_to_third(r: dict) -> float:  # true first or second called the third
      c = np.array(r["test_confusion"])
      return (c[0, 2] + c[1, 2]) / (c[0].sum() + c[1].sum())

    d1, d2 = statistics.paired(m, e, third_to_pair), statistics.paired(m, e, pair_to_third)
    c_e = np.mean([np.array(r["test_confusion"]) for r in e], axis=0)
    c_m = np.mean([np.array(r["test_confusion"]) for r in m], axis=0)
    err_rows.append(
      (
        f"{{{','.join(map(str, classes))}}}",
        [
          f"{100 * np.mean([third_to_pair(r) for r in e]):.2f} → {100 * np.mean([third_to_pair(r) for r in m]):.2f}",
          interval_pp(d1),
          f"{100 * np.mean([pair_to_third(r) for r in e]):.2f} → {100 * np.mean([pair_to_third(r) for r in m]):.2f}",
          interval_pp(d2),
          f"{np.round(c_e).astype(int).tolist()} → {np.round(c_m).astype(int).tolist()}",
        ],
      )
    )
  keys = list(subsets)
  contrasts = [
    (
      f"{keys[0]} − {keys[1]} (swap the third class of 6, 9)",
      interval_pp(statistics.welch(penalties[keys[0]], penalties[keys[1]])),
    ),
    (
      f"{keys[2]} − {keys[3]} (swap the third class of {keys[2][:2]})",
      interval_pp(statistics.welch(penalties[keys[2]], penalties[keys[3]])),
    ),
  ]
  text = [
    f"## 4. The third-class swap ({regime}: {REGIMES[regime].label}; {len(seeds)} seeds)",
    "",
    "Intrusion predicts a larger penalty, and extra errors on 8, where 8 is the third class of 6 and 9,"
    " and nothing of the kind where it is not.",
    "",
    markdown_table(["ERM", "Mixup", "Mixup − ERM, pp [95% CI]"], rows),
    "",
    "Penalty contrasts, pp [Welch 95% CI]:",
    "",
    markdown_table(["difference of penalties"], [(a, [b]) for a, b in contrasts]),
    "",
    "Errors between the pair and the third class (the last class listed), % of that class's test images:"
    " ERM → Mixup, and Mixup − ERM [paired 95% CI]; mean confusion matrices (rows true, columns predicted).",
    "",
    markdown_table(
      ["third called first/second", "Δ", "first/second called third", "Δ", "confusion ERM → Mixup"], err_rows
    ),
    "",
  ]
  return "\n".join(text), figure


def _figures(heat: dict, forest: dict, swap: dict, preset: Preset, root: str) -> None:
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415

  regimes_ = [r for r, _ in preset.sweep]
  names = [n for n in SUBSETS if any(n in ns for _, ns in preset.sweep)]
  grid = np.full((len(regimes_), len(names)), np.nan)
  fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 0.6 * len(regimes_) + 1.5))
  for i, r in enumerate(regimes_):
    for j, n in enumerate(names):
      if (r, n) in heat:
        d = heat[(r, n)]
        grid[i, j] = 100 * d["mean"]
        ax.text(
          j,
          i,
          f"{100 * d['mean']:+.2f}\n[{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]",
          ha="center",
          va="center",
          fontsize=7,
        )
  limit = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1
  image = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
  ax.set_xticks(range(len(names)), [subset_label(n) for n in names])
  ax.set_yticks(range(len(regimes_)), [f"{r}: {REGIMES[r].label}" for r in regimes_], fontsize=7)
  fig.colorbar(image, label="Mixup − ERM test accuracy, pp")
  ax.set_title("Mixup's penalty by regime and dataset (paired 95% CI)")
  fig.tight_layout()
  fig.savefig(os.path.join(root, "sweep.png"), dpi=120)
  plt.close(fig)

  keys = sorted(forest, key=lambda k: (k[0], k[1], list(METHOD_LABELS).index(k[2])))
  fig, ax = plt.subplots(figsize=(8, 0.22 * len(keys) + 1.5))
  for y, key in enumerate(keys):
    d = forest[key]
    ax.errorbar(
      100 * d["mean"], y, xerr=[[100 * (d["mean"] - d["low"])], [100 * (d["high"] - d["mean"])]], fmt="o", ms=3
    )
  ax.axvline(0, color="grey", lw=0.8)
  ax.set_yticks(range(len(keys)), [f"{r} {subset_label(n)} {METHOD_LABELS[m]}" for r, n, m in keys], fontsize=6)
  ax.set_xlabel("test accuracy − ERM's, pp (paired 95% CI)")
  ax.invert_yaxis()
  fig.tight_layout()
  fig.savefig(os.path.join(root, "causal.png"), dpi=120)
  plt.close(fig)

  if swap:
    fig, ax = plt.subplots(figsize=(5, 3))
    for x, d in enumerate(swap.values()):
      ax.errorbar(x, 100 * d["mean"], yerr=[[100 * (d["mean"] - d["low"])], [100 * (d["high"] - d["mean"])]], fmt="o")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(swap)), ["{" + ",".join(k) + "}" for k in swap])
    ax.set_ylabel("Mixup − ERM test accuracy, pp")
    ax.set_title("Third-class swap (paired 95% CI)")
    fig.tight_layout()
    fig.savefig(os.path.join(root, "swap.png"), dpi=120)
    plt.close(fig)


def _csv(runs: Runs, path: str) -> None:
  rows = []
  for regime_path in sorted(os.listdir(os.path.join(runs.root, "regimes"))):
    folder = os.path.join(runs.root, "regimes", regime_path, "runs")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
      with open(os.path.join(folder, name)) as f:
        r = json.load(f)
      c = r["config"]
      rows.append(
        [
          regime_path,
          "all" if c["classes"] is None else "".join(map(str, c["classes"])),
          c["method"],
          "+".join(f"{a}{b}" for a, b in c.get("exclude_pairs") or ()),
          c["seed"],
          f"{r['train_accuracy']:.6f}",
          f"{r['test_accuracy']:.6f}",
        ]
      )
  with open(path, "w", newline="") as f:
    csv.writer(f).writerows(
      [["regime", "classes", "method", "exclude_pairs", "seed", "train_accuracy", "test_accuracy"], *rows]
    )


def write_all(preset: Preset, base: TrainConfig, root: str, chosen: dict, *, command: str) -> str:
  """Writes `science.md`, `runs.csv`, `choices.json` and the figures to `root`; returns the Markdown."""
  runs = Runs(preset, base, root)
  sweep_text, heat = sweep_section(runs)
  closest, distance = closest_regime(runs)
  full = training.load_data(dataclasses.replace(base, classes=None))
  causal_text, forest = causal_section(runs, chosen, full)
  intrusion_text = intrusion_section(runs, full)
  swap_text, swap = swap_section(runs, chosen["swap"])
  classes_text = class_section(runs, chosen)
  confirm_text, confirm_missing = confirm_report.section(confirm.round_for(preset.name), base, root, full)
  round2_text, round2_missing = round2_report.section(confirm.round2_for(preset.name), base, root, full)
  study_text, study_missing = study_like_report.section(study_like.round3_for(preset.name), base, root)
  header = [
    "# Does intrusion cause Mixup's penalty? (generated)",
    "",
    f"Made by `{command}` (preset `{preset.name}`, seeds {list(preset.seeds)}); the model, optimizer and"
    " batch size of the reproduction (Adam 1e-3, batch 128); regimes in `tfmixup/study/regimes.py`.",
    "",
    "Sections 1-5 are the session grid (seeds 0-4): **exploratory** (the regime was chosen on these seeds, and"
    " nothing there is corrected for multiplicity). The preregistered confirmatory rounds are sections 0 and 0b;"
    " section 0c (round 3, planned before its runs) is exploratory.",
    "",
    f"- The regime closest to the study's ERM test accuracies (mean |ours − study's| over MNIST, {{6,8,9}},"
    f" {{1,4,7}}, as many as the regime has, pp): **{closest}** ("
    + ", ".join(f"{r} {100 * d:.2f}" for r, d in sorted(distance.items(), key=lambda x: x[1]))
    + ").",
    f"- The largest study-subset penalty (mean over {{6,8,9}} and {{1,4,7}}): **{chosen['worst']}**"
    " (" + ", ".join(f"{r} {100 * p:+.2f} pp" for r, p in chosen["penalties"].items()) + ").",
    f"- The swap regime (ERM on {{6,8,9}} closest to {100 * science.SWAP_TARGET:.0f}%): **{chosen['swap']}**.",
    "",
  ]
  header += incomplete_note(runs.missing, "cells have unsaved runs", "run the same command again to finish them")
  for missing, what, where in (
    (confirm_missing, "confirmatory", "0"),
    (round2_missing, "round-2", "0b"),
    (study_missing, "round-3", "0c"),
  ):
    if missing:
      header += [f"**Incomplete: {len(missing)} {what} runs are not saved** (section {where} says which).", ""]
  sections = [confirm_text, round2_text, study_text, sweep_text, causal_text, intrusion_text, swap_text, classes_text]
  text = "\n".join([*header, *sections])
  with open(os.path.join(root, "science.md"), "w") as f:
    f.write(text)
  with open(os.path.join(root, "choices.json"), "w") as f:
    json.dump({**chosen, "closest": closest, "distance": distance}, f, indent=1)
  _csv(runs, os.path.join(root, "runs.csv"))
  _figures(heat, forest, swap, preset, root)
  return text
