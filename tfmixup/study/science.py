"""The science grid: the regime sweep, the causal tests and the third-class swap, resumable.

Every run is a `training.train` call whose JSON lands in
`<output_dir>/regimes/<regime>/runs/`; a run already there with the same
config is read back, so an interrupted grid continues where it stopped, and
`--shard=i/n` splits it across processes sharing the output directory
(each run is locked while it trains). Three phases, in order:

1. the sweep (`regimes.Preset.sweep`): its {6, 8, 9} and {1, 4, 7} runs
   first, the other datasets' after phase 3;
2. the causal tests, in the preset's standard regime and in the sweep
   regime where the study subsets' Mixup penalty is largest (`choices`),
   each with an ERM teacher per dataset (seed `TEACHER_SEED`, model saved);
3. the third-class swap, in the regime where ERM on {6, 8, 9} is closest
   to 97% test accuracy.

Phases 2 and 3 depend on phase 1's results, so a shard that finishes its
share of a phase helps with the rest of it (`finish`) before going on.
"""

import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from tfmixup import outputs, training
from tfmixup.config import TrainConfig
from tfmixup.datasets import ImageArrays
from tfmixup.study import judges, paper, regimes, run_shards
from tfmixup.study.regimes import REGIMES, SUBSETS, Preset

SWAP_TARGET = round(paper.test_accuracy("erm", "689"), 2)  # the study's ERM test accuracy on {6, 8, 9}, to the percent


@dataclasses.dataclass(frozen=True)
class Job:
  """One run of the grid: the regime directory it belongs to and its config."""

  regime: str
  config: TrainConfig
  save_model: bool = False

  def output_dir(self, root: str) -> str:
    return regime_dir(root, self.regime)


def regime_dir(root: str, regime: str) -> str:
  return os.path.join(root, "regimes", regime)


def regime_config(preset: Preset, regime: str, base: TrainConfig) -> TrainConfig:
  """The config of `regime`'s runs before dataset, method and seed.

  `preset` may be any plan with `sizes` (a `confirm.Round` too).
  """
  return dataclasses.replace(base, **{"epochs": 1, **preset.sizes, **REGIMES[regime].changes})


def sweep_jobs(preset: Preset, base: TrainConfig) -> list[Job]:
  jobs = []
  for regime, names in preset.sweep:
    methods = ("mixup",) if REGIMES[regime].erm_from else ("erm", "mixup")
    for name in names:
      for method in methods:
        jobs += cell_jobs(preset, base, None, regime=regime, classes=SUBSETS[name], method=method)
  return jobs


def teacher_job(preset: Preset, regime: str, base: TrainConfig, name: str, seed: int = regimes.TEACHER_SEED) -> Job:
  """The ERM run (model saved) that judges `name`'s mixes in `regime`; `preset` as in `regime_config`."""
  config = regime_config(preset, regime, base)
  config = dataclasses.replace(config, classes=SUBSETS[name], method="erm", seed=seed)
  return Job(regime, config, save_model=True)


def causal_jobs(preset: Preset, base: TrainConfig, root: str, worst: str) -> list[Job]:
  """Teachers (every sweep dataset, for the intrusion measurement too), then the causal runs.

  The causal runs include each regime's ERM and Mixup runs of the causal
  subsets (the comparisons), also where the sweep has them.
  """
  plan = {preset.standard: list(preset.causal_methods)}
  plan[worst] = sorted(set(plan.get(worst, [])) | set(preset.causal_methods_worst), key=_method_order)
  names = sorted({n for _, names in preset.sweep for n in names} | set(regimes.CAUSAL_SUBSETS), key=list(SUBSETS).index)
  teachers = [teacher_job(preset, regime, base, name) for regime in plan for name in names]
  jobs = []
  for regime, methods in plan.items():
    # ERM and Mixup of the regime, the runs every causal method is compared with (sweep runs where it has them).
    for method in ("erm", "mixup", *methods):
      for name in regimes.CAUSAL_SUBSETS:
        if method not in regimes.ADA_METHODS or name in preset.ada_subsets:
          jobs += cell_jobs(preset, base, root, regime=regime, classes=SUBSETS[name], method=method)
  return teachers + jobs


def _method_order(method: str) -> int:
  order = regimes.FILTER_METHODS + regimes.ADA_METHODS
  return order.index(method) if method in order else len(order)


def nearest_neighbour_votes(
  judge, test: ImageArrays, first: int, second: int, *, pairs: int, rng: np.random.Generator
) -> np.ndarray:
  """Where a judge (e.g. `judges.nearest_neighbour_judge(train)`) puts mixes of two test classes.

  Returns:
    float `[K]`: the share of `pairs` mixes λ·x_first + (1-λ)·x_second,
    λ ~ U(0, 1), given each label.
  """
  a = test.images[test.labels == first]
  b = test.images[test.labels == second]
  lam = rng.uniform(size=(pairs, 1, 1, 1)).astype(np.float32)
  mixes = (lam * a[rng.integers(len(a), size=pairs)] + (1 - lam) * b[rng.integers(len(b), size=pairs)]) / 255.0
  return np.bincount(np.asarray(judge(mixes.astype(np.float32))), minlength=test.num_classes) / pairs


def pick_swap(train: ImageArrays, test: ImageArrays, per_class: int = 1000, pairs: int = 600, seed: int = 0) -> dict:
  """The third-class swap's k and (a, b): nothing mixes into the third class.

  k: the class outside {6, 8, 9} that 6 + 9 mixes are least often called
  (by `nearest_neighbour_votes` over the first `per_class` training images
  of each class); (a, b): the pair from the rest whose mixes are least often
  called 8 or k.

  Returns:
    {"k", "pair", "votes_69": shares [10], "pair_votes": {(a, b): shares}}.
  """
  rng = np.random.default_rng(seed)
  judge = judges.nearest_neighbour_judge(train.take_per_class(per_class))
  votes_69 = nearest_neighbour_votes(judge, test, 6, 9, pairs=2000, rng=rng)
  outside = [c for c in range(10) if c not in (6, 8, 9)]
  k = min(outside, key=lambda c: votes_69[c])
  rest = [c for c in outside if c != k]
  pair_votes = {
    (a, b): nearest_neighbour_votes(judge, test, a, b, pairs=pairs, rng=rng) for a, b in itertools.combinations(rest, 2)
  }
  pair = min(pair_votes, key=lambda p: pair_votes[p][8] + pair_votes[p][k])
  return {"k": k, "pair": pair, "votes_69": votes_69, "pair_votes": pair_votes}


def swap_subsets() -> dict[str, tuple[int, ...]]:
  """The swap's four triples, by name: the intrusion triple, its third class swapped, and the pair's two."""
  k, (a, b) = regimes.SWAP_K, regimes.SWAP_PAIR
  return {"698": (6, 9, 8), f"69{k}": (6, 9, k), f"{a}{b}8": (a, b, 8), f"{a}{b}{k}": (a, b, k)}


def swap_jobs(preset: Preset, base: TrainConfig, regime: str) -> list[Job]:
  config = regime_config(preset, regime, base)
  return [
    Job(regime, dataclasses.replace(config, classes=classes, method=method, seed=seed))
    for classes in swap_subsets().values()
    for method in ("erm", "mixup")
    for seed in preset.swap_seeds
  ]


def _saved(job: Job, root: str) -> dict | None:
  return training.saved_result(job.output_dir(root), job.config, with_model=job.save_model)


def saved_runs(jobs: Sequence[Job], root: str, missing: set) -> list[dict] | None:
  """The saved results of `jobs` in order, or None if one is not saved (its name then added to `missing`)."""
  out = []
  for job in jobs:
    result = training.read_result(job.output_dir(root), job.config)
    if result is None:
      missing.add(f"{job.regime}/{job.config.run_name}")
      return None
    out.append(result)
  return out


def cell_jobs(
  preset: Preset, base: TrainConfig, root: str | None, *, regime: str, classes, method: str, seeds=None
) -> list[Job]:
  """The runs of one cell by seed.

  ERM comes from the regime it shares (`erm_from`); filter methods get the
  regime's teacher under `root` (which only they need).
  """
  if method == "erm" and REGIMES[regime].erm_from:
    regime = REGIMES[regime].erm_from
  config = dataclasses.replace(regime_config(preset, regime, base), classes=classes, method=method)
  if method in regimes.FILTER_METHODS:
    teacher = teacher_job(preset, regime, base, config.subset)
    config = dataclasses.replace(config, teacher=training.model_path(teacher.output_dir(root), teacher.config))
  return [Job(regime, dataclasses.replace(config, seed=seed)) for seed in (preset.seeds if seeds is None else seeds)]


def test_accuracies(preset: Preset, base: TrainConfig, root: str, *, regime: str, name: str, method: str) -> np.ndarray:
  """Test accuracies of a sweep cell by seed (ERM from `erm_from` where the regime shares it)."""
  jobs = cell_jobs(preset, base, root, regime=regime, classes=SUBSETS[name], method=method)
  results = [_saved(job, root) for job in jobs]
  for job, result in zip(jobs, results, strict=True):
    if result is None:
      raise FileNotFoundError(f"no saved run {job.config.run_name} in {job.output_dir(root)}: run the grid first")
  return np.array([result["test_accuracy"] for result in results])


def choices(preset: Preset, base: TrainConfig, root: str) -> dict:
  """From the finished sweep: the regime with the largest study-subset penalty, and the swap's regime.

  Returns:
    {"worst": regime, "penalties": {regime: mean ERM - Mixup test accuracy
    over the study subsets and seeds}, "swap": regime, "erm_689": {regime:
    mean ERM test accuracy on {6, 8, 9}}}.
  """
  penalties, erm_689 = {}, {}
  for regime, names in preset.sweep:
    if not set(regimes.STUDY_SUBSETS) <= set(names):
      continue
    gaps = [
      np.mean(
        test_accuracies(preset, base, root, regime=regime, name=n, method="erm")
        - test_accuracies(preset, base, root, regime=regime, name=n, method="mixup")
      )
      for n in regimes.STUDY_SUBSETS
    ]
    penalties[regime] = float(np.mean(gaps))
    if not REGIMES[regime].erm_from:
      erm_689[regime] = float(np.mean(test_accuracies(preset, base, root, regime=regime, name="689", method="erm")))
  return {
    "worst": max(penalties, key=penalties.get),
    "penalties": penalties,
    "swap": min(erm_689, key=lambda r: abs(erm_689[r] - SWAP_TARGET)),
    "erm_689": erm_689,
  }


class _Runner:
  """Trains jobs, sharing one load of the full dataset."""

  def __init__(self, base: TrainConfig, root: str, log: Callable[[str], None]) -> None:
    self._base, self._root, self._log = base, root, log
    self._full = None
    self._start = time.perf_counter()

  def run(self, job: Job) -> dict:
    """Trains `job` (or reads it back). Raises outputs.RunLockedError if another process is training it."""
    saved = _saved(job, self._root)
    if saved is not None:
      return saved
    if self._full is None:
      self._full = training.load_data(dataclasses.replace(self._base, classes=None, train_size=None, test_size=None))
    data = training.data_for(job.config, self._full)
    result = training.train(
      job.config, job.output_dir(self._root), data=data, verbose=0, save_model=job.save_model, tensorboard=False
    )
    elapsed = time.perf_counter() - self._start
    self._log(
      f"{job.regime} {job.config.subset} {job.config.method} seed {job.config.seed}: test"
      f" {100 * result['test_accuracy']:.2f}% ({result['wall_time_s']:.0f} s; {elapsed:.0f} s)"
    )
    return result

  def run_all(self, jobs: Sequence[Job], shard: tuple[int, int]) -> None:
    """This shard's jobs, then any of `jobs` still missing (waiting for those other processes hold)."""
    for job in run_shards.shard(jobs, *shard):
      try:
        self.run(job)
      except outputs.RunLockedError:
        pass  # another process has it; `finish` waits for it
    self.finish(jobs)

  def finish(self, jobs: Sequence[Job]) -> None:
    waiting = True
    while waiting:
      waiting = False
      for job in jobs:
        try:
          self.run(job)
        except outputs.RunLockedError:
          waiting = True
      if waiting:
        time.sleep(10)


def run_science(preset: Preset, base: TrainConfig, root: str, shard=(0, 1), log=print) -> dict:
  """Runs the phases (see the module docstring); returns `choices`.

  The sweep's study-subset cells come first (the choices need only them),
  then the teachers, the filter and its control, the swap, AdaMixUp and
  Manifold Mixup, and the rest of the sweep: an interrupted grid has its
  most informative runs.
  """
  runner = _Runner(base, root, log)
  sweep = sweep_jobs(preset, base)
  first = [job for job in sweep if job.config.subset in regimes.STUDY_SUBSETS]
  runner.run_all(first, shard)
  chosen = choices(preset, base, root)
  log(f"Sweep done: largest study-subset penalty in {chosen['worst']}; swap in {chosen['swap']}")
  causal = causal_jobs(preset, base, root, chosen["worst"])
  teachers = [job for job in causal if job.save_model]
  runner.run_all(teachers, shard)  # before the runs that read them
  ada = [job for job in causal if job.config.method in regimes.ADA_METHODS]
  runner.run_all([job for job in causal if not job.save_model and job not in ada], shard)  # filter, control
  runner.run_all(swap_jobs(preset, base, chosen["swap"]), shard)
  runner.run_all(ada, shard)
  rest = [job for job in sweep if job not in first]
  # Full MNIST's ERM runs first (the regime closest to the study's models needs them), then its Mixup runs.
  rest.sort(key=lambda job: (job.config.classes is not None, job.config.method != "erm"))
  runner.run_all(rest, shard)
  return chosen


if __name__ == "__main__":  # prints pick_swap's choice: python -m tfmixup.study.science --data_dir=...
  import sys

  data_dir = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--data_dir=")), None)
  full = training.load_data(TrainConfig(data_dir=data_dir))
  picked = pick_swap(full.train, full.test)
  print(f"k = {picked['k']}, (a, b) = {picked['pair']}; 6 + 9 mixes called: {np.round(picked['votes_69'], 4).tolist()}")
