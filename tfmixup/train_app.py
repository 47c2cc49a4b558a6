"""The training command: `tfmixup-train` or `python train_main.py`.

  tfmixup-train --subset=689 --mixup --data_dir=../shared/mnist
  tfmixup-train --subset=689 --method=cutmix --data_dir=../shared/mnist

Trains the three-conv model (`--runs` seeds) with the method named and
prints a train (test) table in the form of the study's Table 1 (陈晋泰,
"Mixup 技术分析", course report; see `tfmixup/study/__init__.py`). Flags in,
a `TrainConfig` to the library, results out; the work is in
`tfmixup.training`.
"""

import dataclasses
import os
import sys

from absl import logging

from tfmixup import cli, startup
from tfmixup import config as config_lib

# Every TrainConfig field is a flag, and the command's own two (tfmixup/cli.py).
_RUNS, _OUTPUT_DIR = cli.define_command_flags()
_config = cli.define_flags()


def _column(config: config_lib.TrainConfig) -> str:
  """The table's column: the dataset, and the classes kept, e.g. "MNIST {6,8,9}" or "fashion_mnist"."""
  name = "MNIST" if config.dataset == "mnist" else config.dataset
  if config.classes is None:
    return name
  classes = "{" + ",".join(map(str, config.classes)) + "}"
  return classes if config.dataset == "mnist" else f"{name} {classes}"


def main(argv: list[str]) -> None:
  program = os.path.basename(sys.argv[0])
  if len(argv) > 1:
    sys.exit(f"{program}: error: unexpected arguments {argv[1:]}")
  try:
    config = _config()
    dataclasses.replace(config, seed=config.seed + _RUNS.value - 1)  # the last run's seed is checked too
  except config_lib.ConfigError as e:
    sys.exit(f"{program}: error: {e}")
  # Imported here so that flag and config errors are reported before TensorFlow loads (quietly: startup.py).
  startup.import_tensorflow(verbose=startup.wants_tensorflow_logs(logging.get_verbosity()))
  from tfmixup import checkpoints, distributed, tables, training  # noqa: PLC0415
  from tfmixup.datasets import DataError  # noqa: PLC0415

  logging.info("Config: %s", config)
  try:
    with checkpoints.stop_on_signals():  # SIGINT/SIGTERM: stop after this step, state saved
      results = training.train_runs(config, _RUNS.value, _OUTPUT_DIR.value)
  except checkpoints.Interrupted as e:
    print(f"{program}: {e}", file=sys.stderr, flush=True)
    sys.exit(128 + e.signum)
  except (config_lib.ConfigError, DataError, training.OutputDirError, distributed.ClusterError) as e:
    sys.exit(f"{program}: error: {e}")
  for result in results:
    print(tables.run_line(result))
  print(f"\nTrain (test) accuracy, mean ± std over {len(results)} run(s):")
  print(tables.markdown_table([_column(config)], [(tables.method_label(config.method), [tables.cell(results)])]))
  print(f"Results: {os.path.join(_OUTPUT_DIR.value, 'runs')}")


def run() -> None:
  """The console script's entry point. Asking for help exits 0 (absl exits 1 after printing it)."""
  cli.run(main)


if __name__ == "__main__":
  run()
