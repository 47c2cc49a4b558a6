"""The confirmatory rounds on intrusion: the runs `results/science/PLAN.md` preregistered.

  python science_main.py --round=confirm --data_dir=../shared/mnist --output_dir=results/science
  python science_main.py --round=confirm2 --data_dir=../shared/mnist --output_dir=results/science

Fresh seeds (100 and up) in the raw regime (one epoch, unnormalized inputs):
ERM, Mixup, intrusion-dropped Mixup and its matched random drop on the four
causal subsets (teachers of their own, seed `TEACHER_SEED`, models kept);
Mixup with the most-intruding class pair excluded against Mixup with a
matched pair excluded (`exclude_pairs`); the third-class swap; full MNIST.
Round 2 (`phases2`, seeds 200 and up) is the pair test in the 1-epoch
regime on three subsets. The jobs are `science.Job`s in the sweep's regime
directories, so the sweep's runner trains them (resumable, `--shard`), in
the plan's order of priority: an interrupted round keeps its most
important runs.
"""

import dataclasses

from tfmixup.config import TrainConfig
from tfmixup.study import regimes
from tfmixup.study.regimes import SUBSETS
from tfmixup.study.science import Job, regime_config, teacher_job

TEACHER_SEED = 2000  # apart from the session grid's teachers (seed 1000), whose models were not kept
REGIME = "raw"
FILTER_ARMS = ("erm", "mixup", "mixup_filtered", "mixup_random_drop")


@dataclasses.dataclass(frozen=True)
class Target:
  """One subset's intrusion: its most-intruding cross pair, the class it mixes into, the matched control pair.

  From `results/science/intrusion.json` (raw regime, α = 1, ERM teacher); see PLAN.md.
  """

  pair: tuple[int, int]
  third: int
  control: tuple[int, int]


TARGETS: dict[str, Target] = {
  "689": Target((6, 9), 8, (6, 8)),
  "147": Target((1, 4), 7, (1, 7)),
  "367": Target((6, 7), 3, (3, 6)),
  "014": Target((0, 1), 4, (0, 4)),
}
PAIR_SUBSETS = ("689", "147", "367")

# Round 2 (PLAN.md, "Round 2: the 1-epoch pair test"): the pair test in the 1-epoch regime (normalized inputs).
# Its targets are that regime's: `results/science/intrusion.json`, the e1 ERM judge (seed 1000), α = 1.
# {6,8,9} and {3,6,7}: the same pairs as round 1. {1,4,7}: the e1 judge flags 1 + 7 most (1.20% of its
# mixes, called 4; 1 + 4: 0.21%), so the round-1 arms swap roles: 1 + 4 is the control (22.2% of the
# mixes against 23.8%, the closer in size of the two pairs with class 4).
ROUND2_REGIME = "e1"
ROUND2_TARGETS: dict[str, Target] = {
  "689": Target((6, 9), 8, (6, 8)),
  "147": Target((1, 7), 4, (1, 4)),
  "367": Target((6, 7), 3, (3, 6)),
}
# The swap's triples besides {6,8,9} (whose confirmatory runs serve as {6,9,8}: see PLAN.md), by name.
SWAP_TRIPLES = {
  f"69{regimes.SWAP_K}": (6, 9, regimes.SWAP_K),
  f"{regimes.SWAP_PAIR[0]}{regimes.SWAP_PAIR[1]}8": (*regimes.SWAP_PAIR, 8),
  f"{regimes.SWAP_PAIR[0]}{regimes.SWAP_PAIR[1]}{regimes.SWAP_K}": (*regimes.SWAP_PAIR, regimes.SWAP_K),
}


@dataclasses.dataclass(frozen=True)
class Round:
  """How much of the plan to run.

  Attributes:
    name: "full" (the plan) or "ci" (tiny data, two seeds: every step runs).
    seeds: F1-F2's seeds (and F3's on {6,8,9}).
    filter_seeds: F3's seeds on the other subsets.
    pair_seeds: F4's, the swap's and the 1-epoch pair test's seeds.
    mnist_seeds: full MNIST's seeds (F6).
    sizes: `TrainConfig` fields every run gets.
  """

  name: str
  seeds: tuple[int, ...]
  filter_seeds: tuple[int, ...]
  pair_seeds: tuple[int, ...]
  mnist_seeds: tuple[int, ...]
  sizes: dict = dataclasses.field(default_factory=dict)


ROUNDS = {
  "full": Round("full", tuple(range(100, 115)), tuple(range(100, 110)), tuple(range(100, 110)), tuple(range(100, 105))),
  "ci": Round("ci", (100, 101), (100, 101), (100, 101), (100, 101), {"train_per_class": 60, "test_size": 300}),
}


def round_for(preset_name: str) -> Round:
  """The round a science preset runs: "ci" the tiny one, the others the plan."""
  return ROUNDS["ci" if preset_name == "ci" else "full"]


def teacher(plan: Round, base: TrainConfig, name: str, regime: str = REGIME) -> Job:
  return teacher_job(plan, regime, base, name, seed=TEACHER_SEED)


def cell(  # noqa: PLR0913 - one cell: where, what, which seeds
  plan: Round,
  base: TrainConfig,
  root: str,
  *,
  classes: tuple[int, ...] | None,
  method: str,
  seeds: tuple[int, ...],
  exclude: tuple[tuple[int, int], ...] = (),
  regime: str = REGIME,
) -> list[Job]:
  """The runs of one cell by seed; filter methods get the subset's teacher under `root`."""
  from tfmixup import training  # noqa: PLC0415 - imports TensorFlow

  config = dataclasses.replace(regime_config(plan, regime, base), classes=classes, method=method, exclude_pairs=exclude)
  if method in regimes.FILTER_METHODS:
    job = teacher(plan, base, config.subset, regime)
    config = dataclasses.replace(config, teacher=training.model_path(job.output_dir(root), job.config))
  return [Job(regime, dataclasses.replace(config, seed=seed)) for seed in seeds]


def pair_arms(target: Target) -> dict[str, tuple[tuple[int, int], ...]]:
  """F4's two arms: the exclusions, by arm name."""
  return {"pair_excluded": (target.pair,), "matched_excluded": (target.control,)}


def phases(plan: Round, base: TrainConfig, root: str) -> list[tuple[str, list[Job]]]:
  """The round's runs in the plan's order of priority, as (phase name, jobs)."""

  def arms(name: str, methods, seeds, regime=REGIME) -> list[Job]:
    return [
      j for m in methods for j in cell(plan, base, root, classes=SUBSETS[name], method=m, seeds=seeds, regime=regime)
    ]

  def excluded(name: str, seeds, regime=REGIME) -> list[Job]:
    return [
      j
      for exclude in pair_arms(TARGETS[name]).values()
      for j in cell(
        plan, base, root, classes=SUBSETS[name], method="mixup", seeds=seeds, exclude=exclude, regime=regime
      )
    ]

  others = [n for n in TARGETS if n != "689"]
  return [
    ("teachers", [teacher(plan, base, name) for name in TARGETS]),
    ("{6,8,9}: ERM, Mixup, dropped, control", arms("689", FILTER_ARMS, plan.seeds)),
    ("pair exclusion", [j for n in PAIR_SUBSETS for j in excluded(n, plan.pair_seeds)]),
    ("other subsets: ERM, Mixup", [j for n in others for j in arms(n, ("erm", "mixup"), plan.seeds)]),
    ("other subsets: dropped, control", [j for n in others for j in arms(n, FILTER_ARMS[2:], plan.filter_seeds)]),
    (
      "full MNIST",
      [j for m in ("erm", "mixup") for j in cell(plan, base, root, classes=None, method=m, seeds=plan.mnist_seeds)],
    ),
    (
      "swap",
      [
        j
        for classes in SWAP_TRIPLES.values()
        for m in ("erm", "mixup")
        for j in cell(plan, base, root, classes=classes, method=m, seeds=plan.pair_seeds)
      ],
    ),
    (
      "1-epoch pair test (exploratory)",
      arms("689", ("erm", "mixup"), plan.pair_seeds, "e1") + excluded("689", plan.pair_seeds, "e1"),
    ),
  ]


def run_confirm(plan: Round, base: TrainConfig, root: str, shard=(0, 1), log=print) -> None:
  """Trains the round's phases in order (each finished by every shard before the next)."""
  from tfmixup.study import science  # noqa: PLC0415

  runner = science._Runner(base, root, log)  # noqa: SLF001 - the grid's runner: one data load, locks, resume
  for name, jobs in phases(plan, base, root):
    log(f"Confirmatory round, phase: {name} ({len(jobs)} runs)")
    runner.run_all(jobs, shard)


@dataclasses.dataclass(frozen=True)
class Round2:
  """How much of round 2 to run (PLAN.md, "Round 2: the 1-epoch pair test").

  Attributes:
    name: "full" (the plan) or "ci" (tiny data, two seeds).
    seeds: {6,8,9}'s seeds.
    other_seeds: {1,4,7}'s and {3,6,7}'s.
    erm_seeds: the exploratory ERM phase's, on each subset.
    sizes: `TrainConfig` fields every run gets.
  """

  name: str
  seeds: tuple[int, ...]
  other_seeds: tuple[int, ...]
  erm_seeds: tuple[int, ...]
  sizes: dict = dataclasses.field(default_factory=dict)

  def seeds_of(self, name: str) -> tuple[int, ...]:
    """The confirmatory seeds of subset `name`."""
    return self.seeds if name == "689" else self.other_seeds


ROUNDS2 = {
  "full": Round2("full", tuple(range(200, 215)), tuple(range(200, 210)), tuple(range(200, 210))),
  "ci": Round2("ci", (200, 201), (200, 201), (200, 201), {"train_per_class": 60, "test_size": 300}),
}
ROUND2_ARMS = ("mixup", "pair_excluded", "matched_excluded")


def round2_for(preset_name: str) -> Round2:
  """Round 2's size for a science preset: "ci" the tiny one, the others the plan."""
  return ROUNDS2["ci" if preset_name == "ci" else "full"]


def round2_cell(plan: Round2, base: TrainConfig, name: str, arm: str, seeds: tuple[int, ...]) -> list[Job]:
  """Round 2's runs of one arm ("erm" or one of `ROUND2_ARMS`) of subset `name`, by seed."""
  method, exclude = ("erm", ()) if arm == "erm" else ("mixup", ())
  if arm in ("pair_excluded", "matched_excluded"):
    exclude = pair_arms(ROUND2_TARGETS[name])[arm]
  return cell(plan, base, "", classes=SUBSETS[name], method=method, seeds=seeds, exclude=exclude, regime=ROUND2_REGIME)


def phases2(plan: Round2, base: TrainConfig) -> list[tuple[str, list[Job]]]:
  """Round 2's runs in the plan's order, as (phase name, jobs): {6,8,9}, the other two subsets, ERM last."""

  def arms(names) -> list[Job]:
    return [j for n in names for a in ROUND2_ARMS for j in round2_cell(plan, base, n, a, plan.seeds_of(n))]

  return [
    ("round 2, {6,8,9}: Mixup, top pair excluded, control pair excluded", arms(("689",))),
    ("round 2, {1,4,7} and {3,6,7}: the same arms", arms(("147", "367"))),
    (
      "round 2, exploratory: ERM",
      [j for n in ROUND2_TARGETS for j in round2_cell(plan, base, n, "erm", plan.erm_seeds)],
    ),
  ]


def run_confirm2(plan: Round2, base: TrainConfig, root: str, shard=(0, 1), log=print) -> None:
  """Trains round 2's phases in order (each finished by every shard before the next)."""
  from tfmixup.study import science  # noqa: PLC0415

  runner = science._Runner(base, root, log)  # noqa: SLF001 - the grid's runner: one data load, locks, resume
  for name, jobs in phases2(plan, base):
    log(f"Confirmatory round 2, phase: {name} ({len(jobs)} runs)")
    runner.run_all(jobs, shard)
