"""Reports of the reproduction grid: Table 1, paired differences, CSV, figures, intrusion.

Everything here reads saved runs (and, for intrusion, saved ERM models) from
the grid's output directory; nothing is trained.
"""

import csv
import dataclasses
import os
from collections.abc import Sequence

import keras
import numpy as np
from scipy import stats

from tfmixup import datasets, training
from tfmixup.config import subset_name
from tfmixup.study import intrusion, paper, statistics
from tfmixup.study.grid import CONTROL_SUBSETS, GridSpec
from tfmixup.study.tables import cell, interval_pp, markdown_table, mean_std, method_label, subset_label

# Rows of the mixture picture: the study's pairs, then one pair of each control.
PICTURE_PAIRS = ((6, 9), (9, 6), (6, 8), (1, 7), (4, 1), (7, 4), (0, 1), (3, 6))


def column(classes: Sequence[int] | None) -> str:
  """The table column of a class subset (None: all ten digits), e.g. "MNIST" or "{6,8,9}"."""
  return subset_label(subset_name(classes))


def collect(spec: GridSpec, output_dir: str) -> dict[tuple[str, str], list[dict]]:
  """Saved results of every grid run, keyed by (subset, method), in seed order.

  Raises:
    FileNotFoundError: a run of the grid has no saved result.
  """
  cells: dict[tuple[str, str], list[dict]] = {}
  missing = []
  for config in spec.configs():
    result = training.read_result(output_dir, config)
    if result is None:
      missing.append(config.run_name)
    else:
      cells.setdefault((config.subset, config.method), []).append(result)
  if missing:
    raise FileNotFoundError(
      f"{len(missing)} of {len(spec.configs())} runs have no saved result (by tfmixup >= 0.2.0) in"
      f" {os.path.join(output_dir, 'runs')}, e.g. {missing[0]}: train the grid first"
    )
  return cells


def table1_markdown(cells: dict, subsets: Sequence[Sequence[int] | None], command: str, protocol: str) -> str:
  keys = [subset_name(s) for s in subsets]
  columns = [column(s) for s in subsets]
  accuracy_rows = []
  for method in ("mixup", "erm", "pair_sampling"):
    study = paper.TABLE1.get(method)
    if study is not None:
      row = [f"{study[k][0]:.1f}% ({study[k][1]:.1f}%)" if k in study else "" for k in keys]
      accuracy_rows.append((f"{method_label(method)} (study)", row))
    ours = [cell(cells[(k, method)]) if (k, method) in cells else "" for k in keys]
    n = len(cells.get((keys[0], method), []))
    accuracy_rows.append((f"{method_label(method)} (ours, {n} seeds)", ours))
  difference_rows = [("Mixup - without (study)", [f"{paper.mixup_penalty(k):+.2f}" for k in keys])]
  for method in ("mixup", "pair_sampling"):
    row = [interval_pp(statistics.paired(cells[(k, method)], cells[(k, "erm")])) for k in keys]
    difference_rows.append((f"{method_label(method)} - without (ours)", row))
  lines = [
    "# Table 1, reproduced",
    "",
    f"The study: {paper.CITATION} (text in `../shared/study/`).",
    "",
    f"Produced by `{command}`. {protocol}",
    "",
    "Train (test) accuracy. Study: three runs, mean only. Ours: mean ± sample std over seeds;"
    " train accuracy on the clean, unmixed training split.",
    "",
    markdown_table(columns, accuracy_rows),
    "",
    "## Differences against training without mixing, paired by seed",
    "",
    "Test accuracy difference in percentage points, mean and 95% confidence interval (t, over seeds);"
    " the study's difference for comparison.",
    "",
    markdown_table(columns, difference_rows),
  ]
  lines.append("")
  return "\n".join(lines)


def write_csv(cells: dict, path: str) -> None:
  fields = ["dataset", "subset", "method", "alpha", "seed", "epochs", "train_accuracy", "test_accuracy", "wall_time_s"]
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    for results in cells.values():
      for r in results:
        c = r["config"]
        writer.writerow(
          {
            "dataset": c["dataset"],
            "subset": subset_name(c["classes"]),
            "method": c["method"],
            "alpha": c["alpha"] if c["method"] == "mixup" else "",
            "seed": c["seed"],
            "epochs": c["epochs"],
            "train_accuracy": f"{r['train_accuracy']:.5f}",
            "test_accuracy": f"{r['test_accuracy']:.5f}",
            "wall_time_s": f"{r['wall_time_s']:.1f}",
          }
        )


def save_accuracy_figure(cells: dict, subsets: Sequence[Sequence[int] | None], path: str) -> None:
  """Test accuracy per dataset and method: mean ± std bars, seeds as dots."""
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415

  methods = [m for m in ("erm", "mixup", "pair_sampling") if any((subset_name(s), m) in cells for s in subsets)]
  fig, axes = plt.subplots(1, len(subsets), figsize=(3.0 * len(subsets), 3.4), squeeze=False)
  colors = {"erm": "tab:gray", "mixup": "tab:blue", "pair_sampling": "tab:orange"}
  for ax, classes in zip(axes[0], subsets, strict=True):
    key = subset_name(classes)
    here = [m for m in methods if (key, m) in cells]
    for x, method in enumerate(here):
      acc = 100 * np.array([r["test_accuracy"] for r in cells[(key, method)]])
      mean, std = mean_std(acc)
      ax.errorbar(x, mean, yerr=0 if np.isnan(std) else std, fmt="o", color=colors[method], capsize=5, ms=7)
      ax.scatter(np.full(len(acc), x + 0.18), acc, s=10, color=colors[method], alpha=0.5)
    ax.set_xticks(range(len(here)), [method_label(m) for m in here], rotation=20, fontsize=8)
    ax.set_xlim(-0.5, len(here) - 0.3)
    ax.set_title(column(classes))
    ax.grid(axis="y", alpha=0.3)
  axes[0, 0].set_ylabel("test accuracy (%)\nmean ± std over seeds; dots: seeds")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def intrusion_markdown(
  spec: GridSpec,
  output_dir: str,
  cells: dict,
  full: training.SplitData,
  subsets: Sequence[Sequence[int]],
  *,
  command: str,
) -> tuple[str, dict]:
  """Intrusion rates of the ERM models of each subset, against the Mixup penalty."""
  summary = {}
  detail_lines = []
  for classes in subsets:
    key = subset_name(classes)
    test = datasets.select_classes(full.test, classes)
    per_seed = []
    for seed in spec.seeds:
      config = dataclasses.replace(spec.base, classes=tuple(classes), method="erm", seed=seed)
      model = keras.models.load_model(training.model_path(output_dir, config))
      per_seed.append(intrusion.intrusion_rates(model, test))
    rows = per_seed[0]
    rates = np.array([[r["intrusion"] for r in seed_rows] for seed_rows in per_seed])  # [seeds, rows]
    detail_lines += [f"### {column(classes)}", "", "| first + second | λ=0.3 | λ=0.5 | λ=0.7 |", "|---|---|---|---|"]
    for start in range(0, len(rows), len(intrusion.LAMBDAS)):
      r = rows[start]
      vals = rates[:, start : start + len(intrusion.LAMBDAS)].mean(axis=0)
      detail_lines.append(f"| {r['first']} + {r['second']} | " + " | ".join(f"{100 * v:.1f}%" for v in vals) + " |")
    detail_lines.append("")
    half = [k for k, r in enumerate(rows) if r["lam"] == 0.5]
    overall = rates.mean(axis=1)
    penalty = statistics.paired(cells[(key, "erm")], cells[(key, "mixup")])
    summary[key] = {
      "resemblance": intrusion.mixture_resemblance(full.train, classes),
      "intrusion_all": mean_std(overall),
      "intrusion_half": mean_std(rates[:, half].mean(axis=1)),
      "worst_pair": max(((rows[k]["first"], rows[k]["second"], rates[:, k].mean()) for k in half), key=lambda t: t[2]),
      "penalty": penalty,
    }
  lines = [
    "# Manifold intrusion, measured",
    "",
    f"Produced by `{command}`.",
    "",
    "For each subset, the models trained without mixing (one per seed) are shown mixtures"
    " λ·x_i + (1-λ)·x_j of test images of classes i and j, for every ordered pair (i, j),"
    " each test image of i paired with a random test image of j. Intrusion: the fraction"
    " of mixtures the model assigns to a class that is neither i nor j. The Mixup penalty"
    " is ERM minus Mixup test accuracy, paired by seed (positive: Mixup hurts).",
    "",
    "Controls {0,1,4} and {3,6,7} were picked without a model: over all 120 digit triples,"
    " the correlation between the average of two class-mean images and the third class-mean"
    " image (`intrusion.mixture_resemblance`, the largest over the triple's three choices of third"
    " class); {0,1,4} scores lowest, {3,6,7} lowest among triples disjoint from it.",
    "",
    "| subset | resemblance score | intrusion, all pairs and λ | intrusion at λ=0.5 | worst pair at λ=0.5"
    " | Mixup penalty, test (pp, 95% CI) |",
    "|---|---|---|---|---|---|",
  ]
  for classes in subsets:
    s = summary[subset_name(classes)]
    p = s["penalty"]
    first, second, worst = s["worst_pair"]
    lines.append(
      f"| {column(classes)} | {s['resemblance']:.3f}"
      f" | {100 * s['intrusion_all'][0]:.1f} ± {100 * s['intrusion_all'][1]:.1f}%"
      f" | {100 * s['intrusion_half'][0]:.1f} ± {100 * s['intrusion_half'][1]:.1f}%"
      f" | {first} + {second}: {100 * worst:.1f}% | {interval_pp(p)} |"
    )
  keys = [subset_name(c) for c in subsets]
  if len(keys) >= 3:
    rho = stats.spearmanr(
      [summary[k]["intrusion_all"][0] for k in keys], [summary[k]["penalty"]["mean"] for k in keys]
    ).statistic
    lines += [
      "",
      f"Spearman rank correlation of intrusion with the Mixup penalty over these {len(keys)} subsets: {rho:+.2f}.",
    ]
  lines += ["", "Intrusion ± std over seeds. Per pair, mean over seeds:", "", *detail_lines]
  return "\n".join(lines), summary


def write_all(spec: GridSpec, output_dir: str, command: str) -> None:
  """Writes table1.md, runs.csv, table1.png, intrusion.md and mixtures.png to output_dir."""
  cells = collect(spec, output_dir)
  base = spec.base
  # The intrusion measurement reads the saved ERM models: check them all first,
  # so that a missing one stops the report in one line, before anything is written.
  erm = [c for c in spec.configs() if c.method == "erm" and c.classes is not None]
  missing = [c.run_name for c in erm if not os.path.exists(training.model_path(output_dir, c))]
  if missing:
    raise FileNotFoundError(
      f"{len(missing)} of {len(erm)} ERM models for the intrusion measurement are not in"
      f" {os.path.join(output_dir, 'models')} (e.g. {missing[0]}.keras; models are not kept in git):"
      " run without --report_only to train them"
    )
  protocol = (
    f"Protocol: three-conv model (tfmixup.model), Adam lr {base.learning_rate:g}, batch {base.batch_size},"
    f" epochs {base.epochs}, Mixup α = {base.alpha:g}, seeds {', '.join(map(str, spec.seeds))}"
    + (f", first {base.train_size} training images" if base.train_size else ", full training split")
    + (f", first {base.test_size} test images." if base.test_size else ", full test split.")
  )
  study_subsets = [c for c, _ in spec.cells if c not in CONTROL_SUBSETS]
  with open(os.path.join(output_dir, "table1.md"), "w") as f:
    f.write(table1_markdown(cells, study_subsets, command, protocol))
  write_csv(cells, os.path.join(output_dir, "runs.csv"))
  save_accuracy_figure(cells, [c for c, _ in spec.cells], os.path.join(output_dir, "table1.png"))

  full = training.load_data(dataclasses.replace(base, classes=None))
  intrusion_subsets = [c for c, _ in spec.cells if c is not None]
  text, _ = intrusion_markdown(spec, output_dir, cells, full, intrusion_subsets, command=command)
  with open(os.path.join(output_dir, "intrusion.md"), "w") as f:
    f.write(text + "\n")
  predictions = []
  for i, j in PICTURE_PAIRS:
    classes = next((c for c in intrusion_subsets if i in c and j in c), None)
    if classes is None:
      predictions.append(None)
      continue
    config = dataclasses.replace(base, classes=tuple(classes), method="erm", seed=spec.seeds[0])
    predictions.append((keras.models.load_model(training.model_path(output_dir, config)), classes))
  intrusion.save_mixture_grid(
    full.test, PICTURE_PAIRS, os.path.join(output_dir, "mixtures.png"), predictions=predictions
  )
