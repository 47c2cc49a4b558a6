"""The reproduction command: `tfmixup-reproduce` or `python reproduce_main.py`.

Reproduces the study's Table 1 (陈晋泰, "Mixup 技术分析", see
`tfmixup/study/__init__.py`) with 5 seeds, and measures manifold intrusion:

  tfmixup-reproduce --data_dir=../shared/mnist --output_dir=results

Trains the grid (datasets x methods x seeds; runs already in
`<output_dir>/runs` are not redone), then writes `table1.md`, `runs.csv`,
`table1.png`, `intrusion.md` and `mixtures.png` to `--output_dir`.

On n machines (or processes) sharing `--output_dir`, run the same command
with `--shard=0/n`, ..., `--shard=n-1/n`: each trains its runs once, and the
one that finds every run saved writes the report.
"""

import sys
import time

from absl import flags

from tfmixup import cli
from tfmixup.study import commands
from tfmixup.study.run_shards import parse_shard

_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with the MNIST IDX files (None: TFDS).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "results", "Where runs, models and reports go.")
_SEEDS = flags.DEFINE_integer("seeds", 5, "Seeds per cell (0, 1, ...).", lower_bound=2)
_EPOCHS = flags.DEFINE_integer("epochs", 5, "Training epochs per run.", lower_bound=1)
_TRAIN_SIZE = flags.DEFINE_integer("train_size", None, "Use only the first N training images (CI).", lower_bound=1)
_TEST_SIZE = flags.DEFINE_integer("test_size", None, "Use only the first N test images (CI).", lower_bound=1)
_SKIP_TRAINING = flags.DEFINE_bool("report_only", False, "Only write the reports from saved runs.")
_SHARD = flags.DEFINE_string("shard", "0/1", "i/n: train only runs i, i+n, ... (n processes sharing --output_dir).")


flags.register_validator("shard", commands.check_shard, "must be i/n with integers 0 <= i < n, e.g. 0/2")


def main(argv: list[str]) -> None:
  program = commands.start(argv)
  from tfmixup import checkpoints, training  # noqa: PLC0415
  from tfmixup.config import TrainConfig  # noqa: PLC0415
  from tfmixup.study import grid, report  # noqa: PLC0415

  base = TrainConfig(
    data_dir=_DATA_DIR.value, epochs=_EPOCHS.value, train_size=_TRAIN_SIZE.value, test_size=_TEST_SIZE.value
  )
  spec = grid.default_spec(base, range(_SEEDS.value))
  output_dir = _OUTPUT_DIR.value
  start = time.perf_counter()
  shard = parse_shard(_SHARD.value)
  with commands.one_line_errors(program):
    training.prepare_output_dir(output_dir)
    if not _SKIP_TRAINING.value:
      with checkpoints.stop_on_signals():  # SIGINT/SIGTERM: stop after this step, state saved
        grid.run_grid(spec, output_dir, shard_of=shard)
      missing = grid.missing_runs(spec, output_dir)
      if missing:  # other shards are still training: the last one to finish reports
        print(f"Shard {_SHARD.value} done; {len(missing)} runs of other shards to go: the last shard writes the report")
        return
    command = " ".join(["python", *sys.argv])
    commands.write_report_once(
      output_dir, lambda: report.write_all(spec, output_dir, command=command), started=start, what="reports"
    )


def run() -> None:
  """The console script's entry point. Asking for help exits 0 (absl exits 1 after printing it)."""
  cli.run(main)


if __name__ == "__main__":
  run()
