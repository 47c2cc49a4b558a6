"""The reproduction command: `tfmixup-reproduce` or `python reproduce_main.py`.

Reproduces the study's Table 1 (陈晋泰, "Mixup 技术分析", see
`tfmixup/study/__init__.py`) with 5 seeds, and measures manifold intrusion:

  tfmixup-reproduce --data_dir=../shared/mnist --output_dir=results

Trains the grid (datasets x methods x seeds; runs already in
`<output_dir>/runs` are not redone), then writes `table1.md`, `runs.csv`,
`table1.png`, `intrusion.md` and `mixtures.png` to `--output_dir`.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with the MNIST IDX files (None: TFDS).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "results", "Where runs, models and reports go.")
_SEEDS = flags.DEFINE_integer("seeds", 5, "Seeds per cell (0, 1, ...).", lower_bound=2)
_EPOCHS = flags.DEFINE_integer("epochs", 5, "Training epochs per run.", lower_bound=1)
_TRAIN_SIZE = flags.DEFINE_integer("train_size", None, "Use only the first N training images (CI).", lower_bound=1)
_TEST_SIZE = flags.DEFINE_integer("test_size", None, "Use only the first N test images (CI).", lower_bound=1)
_SKIP_TRAINING = flags.DEFINE_bool("report_only", False, "Only write the reports from saved runs.")


def main(argv: list[str]) -> None:
  program = os.path.basename(sys.argv[0])
  if len(argv) > 1:
    sys.exit(f"{program}: error: unexpected arguments {argv[1:]}")
  from tfmixup import training  # noqa: PLC0415
  from tfmixup.config import TrainConfig  # noqa: PLC0415
  from tfmixup.datasets import DataError  # noqa: PLC0415
  from tfmixup.study import grid, report  # noqa: PLC0415

  base = TrainConfig(
    data_dir=_DATA_DIR.value, epochs=_EPOCHS.value, train_size=_TRAIN_SIZE.value, test_size=_TEST_SIZE.value
  )
  spec = grid.default_spec(base, range(_SEEDS.value))
  output_dir = _OUTPUT_DIR.value
  start = time.perf_counter()
  try:
    training.prepare_output_dir(output_dir)
    if not _SKIP_TRAINING.value:
      grid.run_grid(spec, output_dir)
    report.write_all(spec, output_dir, command=" ".join(["python", *sys.argv]))
  except (DataError, training.OutputDirError, FileNotFoundError) as e:
    sys.exit(f"{program}: error: {e}")
  print(f"Done in {time.perf_counter() - start:.0f} s; reports in {output_dir}")


def run() -> None:
  """The console script's entry point."""
  app.run(main)


if __name__ == "__main__":
  run()
