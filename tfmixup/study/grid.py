"""The reproduction grid: datasets x methods x seeds, resumable.

The protocol (see `results/table1.md` and docs/study for why): Adam at 1e-3, batch 128, 5
epochs, α = 1.0, the three-conv model, full training and test splits; seeds
0..4. Every run is a `training.train` call whose JSON lands in
`<output_dir>/runs/`; a run already there with the same config is read
back, so an interrupted grid continues where it stopped.

Across processes or machines sharing the output directory: `--shard=i/n`
gives process i runs i, i+n, i+2n, ... of `spec.configs()` (`run_shards.shard`), so
each run is trained exactly once (a per-run lock, `tfmixup.outputs`, stops a
second process that starts the same run); the process that finds every run
saved writes the report (`reproduce.py`).
"""

import dataclasses
import time
from collections.abc import Sequence

from tfmixup import datasets, training
from tfmixup.config import TrainConfig, subset_name
from tfmixup.study.run_shards import shard

# Study subsets, then two controls picked by `intrusion.pick_controls`: the
# triple whose mixtures least resemble its third class (class-mean images),
# then the least such triple disjoint from it.
STUDY_SUBSETS: tuple[tuple[int, ...] | None, ...] = (None, (6, 8, 9), (1, 4, 7))
CONTROL_SUBSETS: tuple[tuple[int, ...], ...] = ((0, 1, 4), (3, 6, 7))
STUDY_METHODS = ("erm", "mixup", "pair_sampling")
CONTROL_METHODS = ("erm", "mixup")


@dataclasses.dataclass(frozen=True)
class GridSpec:
  """What the grid runs.

  Attributes:
    base: the config every run starts from (epochs, batch size, α, ...);
      its `classes`, `method` and `seed` are replaced per run.
    seeds: the seeds; runs with the same seed share initial weights, so
      method differences can be paired by seed.
    cells: (classes, methods) pairs; classes None means all ten digits.
  """

  base: TrainConfig
  seeds: tuple[int, ...]
  cells: tuple[tuple[tuple[int, ...] | None, tuple[str, ...]], ...]

  def configs(self) -> list[TrainConfig]:
    return [
      dataclasses.replace(self.base, classes=classes, method=method, seed=seed)
      for classes, methods in self.cells
      for method in methods
      for seed in self.seeds
    ]


def default_spec(base: TrainConfig, seeds: Sequence[int]) -> GridSpec:
  cells = tuple((s, STUDY_METHODS) for s in STUDY_SUBSETS) + tuple((s, CONTROL_METHODS) for s in CONTROL_SUBSETS)
  return GridSpec(base=base, seeds=tuple(seeds), cells=cells)


def missing_runs(spec: GridSpec, output_dir: str) -> list[TrainConfig]:
  """The grid's runs without a saved result and model."""
  return [c for c in spec.configs() if training.saved_result(output_dir, c, with_model=True) is None]


def run_grid(spec: GridSpec, output_dir: str, log=print, shard_of: tuple[int, int] = (0, 1)) -> list[dict]:
  """Trains every run of the grid not already saved; returns all results.

  Models are saved too (`models/`), for the intrusion measurement. The full
  splits are loaded once and subset in memory.

  Args:
    spec: the grid.
    output_dir: where runs, models and TensorBoard logs go.
    log: progress sink, one line per run.
    shard_of: (i, n): train only shard i of n (`run_shards.shard`).

  Returns:
    One result dict per run of the shard, in `spec.configs()` order.
  """
  full = None
  results = []
  configs = shard(spec.configs(), *shard_of)
  start = time.perf_counter()
  for n, config in enumerate(configs, 1):
    saved = training.saved_result(output_dir, config, with_model=True)
    if saved is None:
      if full is None:
        full = training.load_data(dataclasses.replace(config, classes=None))
      data = (
        full
        if config.classes is None
        else training.SplitData(
          train=datasets.select_classes(full.train, config.classes),
          test=datasets.select_classes(full.test, config.classes),
        )
      )
      saved = training.train(config, output_dir, data=data, verbose=0, save_model=True)
      status = f"trained in {saved['wall_time_s']:.0f} s"
    else:
      status = "already done"
    log(
      f"[{n}/{len(configs)}] {subset_name(config.classes)} {config.method} seed {config.seed}:"
      f" test {100 * saved['test_accuracy']:.2f}% ({status}; grid {time.perf_counter() - start:.0f} s)"
    )
    results.append(saved)
  return results
