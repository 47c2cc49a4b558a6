"""Round 3 (exploratory): the study's table in the most study-like configuration (`results/science/PLAN.md`).

  python science_main.py --round=study --data_dir=../shared/mnist --output_dir=results/science

The study's three datasets (MNIST, {6,8,9}, {1,4,7}) with and without
Mixup, one epoch, in two settings: [0, 1] inputs and unnormalized 0-255
inputs. In both, the subsets are class-sorted in the study's class order
(6, 8, 9 and 1, 4, 7) and read through a 5,000-example shuffle buffer (the
`sorted` and `sorted_raw` regimes), and MNIST keeps its native order, which
a 5,000-example buffer leaves as mixed as a full shuffle (PLAN.md, round 3),
so its cells are the `e1` and `raw` regimes' runs. Jobs are `science.Job`s
in the regimes' directories, trained by the grid's runner (resumable,
`--shard`); runs already saved (the session grid's) are not trained again.
"""

import dataclasses

from tfmixup.config import TrainConfig
from tfmixup.study.regimes import SUBSETS
from tfmixup.study.science import Job, regime_config


@dataclasses.dataclass(frozen=True)
class Setting:
  """One of the round's two settings: the regimes its subsets and MNIST come from."""

  label: str
  subsets: str
  mnist: str

  def regime(self, name: str) -> str:
    """The regime of dataset `name` ("all": MNIST) in this setting."""
    return self.mnist if name == "all" else self.subsets


SETTINGS = (Setting("[0, 1] inputs", "sorted", "e1"), Setting("0-255 inputs", "sorted_raw", "raw"))
DATASETS = ("all", "689", "147")  # the study's, in its table's order
METHODS = ("mixup", "erm")  # the study's rows: with Mixup, without


@dataclasses.dataclass(frozen=True)
class StudyRound:
  """How much of round 3 to run.

  Attributes:
    name: "full" (the plan) or "ci" (tiny data, two seeds).
    subset_seeds: the seeds of each subset cell.
    mnist_seeds: the seeds of each MNIST cell.
    sizes: `TrainConfig` fields every run gets.
  """

  name: str
  subset_seeds: tuple[int, ...]
  mnist_seeds: tuple[int, ...]
  sizes: dict = dataclasses.field(default_factory=dict)

  def seeds_of(self, name: str) -> tuple[int, ...]:
    return self.mnist_seeds if name == "all" else self.subset_seeds


ROUNDS3 = {
  "full": StudyRound("full", tuple(range(10)), tuple(range(5))),
  "ci": StudyRound("ci", (0, 1), (0, 1), {"train_per_class": 60, "test_size": 300}),
}


def round3_for(preset_name: str) -> StudyRound:
  """Round 3's size for a science preset: "ci" the tiny one, the others the plan."""
  return ROUNDS3["ci" if preset_name == "ci" else "full"]


def cell(plan: StudyRound, base: TrainConfig, setting: Setting, name: str, method: str) -> list[Job]:
  """The runs of one cell (a setting, a dataset, "mixup" or "erm"), by seed."""
  regime = setting.regime(name)
  config = dataclasses.replace(regime_config(plan, regime, base), classes=SUBSETS[name], method=method)
  return [Job(regime, dataclasses.replace(config, seed=seed)) for seed in plan.seeds_of(name)]


def phases3(plan: StudyRound, base: TrainConfig) -> list[tuple[str, list[Job]]]:
  """Round 3's runs as (phase name, jobs): the subsets' cells first (the new regime), then MNIST's."""
  return [
    (
      f"round 3, {dataset}: the study's table, {setting.label}",
      [j for name in names for method in METHODS for j in cell(plan, base, setting, name, method)],
    )
    for dataset, names in (("subsets", DATASETS[1:]), ("MNIST", DATASETS[:1]))
    for setting in reversed(SETTINGS)
  ]


def run_round3(plan: StudyRound, base: TrainConfig, root: str, shard=(0, 1), log=print) -> None:
  """Trains round 3's phases in order (each finished by every shard before the next)."""
  from tfmixup.study import science  # noqa: PLC0415

  runner = science._Runner(base, root, log)  # noqa: SLF001 - the grid's runner: one data load, locks, resume
  for name, jobs in phases3(plan, base):
    log(f"Round 3 (exploratory), phase: {name} ({len(jobs)} runs)")
    runner.run_all(jobs, shard)
