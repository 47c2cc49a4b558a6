"""Trains the three-conv model with or without mixing and reports the study's table.

  python train_main.py --subset=689 --mixup --data_dir=../shared/mnist

Flags in, a TrainConfig to the library, results out; the work is in
`tfmixup.training`.
"""

import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Before TensorFlow is imported.

from absl import app, flags, logging  # noqa: E402

from tfmixup import config as config_lib  # noqa: E402

_DATASET = flags.DEFINE_string("dataset", "mnist", "TFDS dataset name (or a label for IDX files in --data_dir).")
_SUBSET = flags.DEFINE_string("subset", "all", "'all', or the digits to keep, e.g. 689 or 147.")
_MIXUP = flags.DEFINE_bool("mixup", False, "Train with Mixup.")
_PAIR_SAMPLING = flags.DEFINE_bool("pair_sampling", False, "Train with pair sampling (SamplePairing).")
_ALPHA = flags.DEFINE_float("alpha", 1.0, "Mixup's Beta(alpha, alpha) concentration, > 0.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the first run.")
_RUNS = flags.DEFINE_integer("runs", 3, "Runs, with seeds seed, seed+1, ...", lower_bound=1)
_EPOCHS = flags.DEFINE_integer("epochs", 10, "Training epochs.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate, > 0.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with IDX files, or the TFDS data directory.")
_DOWNLOAD = flags.DEFINE_bool(
  "download", False, "Let TFDS download into --data_dir (without --data_dir it always may)."
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "output", "Where run JSONs and TensorBoard logs go.")
_JIT_COMPILE = flags.DEFINE_enum("jit_compile", "auto", config_lib.JIT_CHOICES, "XLA: auto = on when a GPU is visible.")
_TRAIN_SIZE = flags.DEFINE_integer("train_size", None, "Use only the first N training images.", lower_bound=1)


@flags.validator("subset", "must be 'all' or two or more distinct digits, e.g. 689")
def _subset_ok(value: str) -> bool:
  try:
    config_lib.parse_subset(value)
  except config_lib.ConfigError as e:
    raise flags.ValidationError(str(e)) from None
  return True


@flags.validator("alpha", "must be finite and > 0")
def _alpha_ok(value: float) -> bool:
  return math.isfinite(value) and value > 0


@flags.validator("learning_rate", "must be finite and > 0")
def _learning_rate_ok(value: float) -> bool:
  return math.isfinite(value) and value > 0


flags.register_multi_flags_validator(
  ["mixup", "pair_sampling"],
  lambda f: not (f["mixup"] and f["pair_sampling"]),
  message="--mixup and --pair_sampling exclude each other: pick one",
)


def _config() -> config_lib.TrainConfig:
  method = "mixup" if _MIXUP.value else "pair_sampling" if _PAIR_SAMPLING.value else "erm"
  return config_lib.TrainConfig(
    dataset=_DATASET.value,
    classes=config_lib.parse_subset(_SUBSET.value),
    method=method,
    alpha=_ALPHA.value,
    seed=_SEED.value,
    epochs=_EPOCHS.value,
    batch_size=_BATCH_SIZE.value,
    learning_rate=_LEARNING_RATE.value,
    data_dir=_DATA_DIR.value,
    download=_DOWNLOAD.value,
    jit_compile=_JIT_COMPILE.value,
    train_size=_TRAIN_SIZE.value,
  )


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    sys.exit(f"train_main.py: error: unexpected arguments {argv[1:]}")
  # Imported here so that flag errors are reported before TensorFlow loads.
  from tfmixup import reporting, training  # noqa: PLC0415
  from tfmixup.datasets import DataError  # noqa: PLC0415

  config = _config()
  logging.info("Config: %s", config)
  try:
    results = training.train_runs(config, _RUNS.value, _OUTPUT_DIR.value)
  except (DataError, training.OutputDirError) as e:
    sys.exit(f"train_main.py: error: {e}")
  for result in results:
    print(reporting.run_line(result))
  label = reporting.METHOD_LABELS[config.method]
  column = "MNIST" if config.classes is None else "{" + ",".join(map(str, config.classes)) + "}"
  print(f"\nTrain (test) accuracy, mean ± std over {len(results)} run(s):")
  print(reporting.markdown_table([column], [(label, [reporting.cell(results)])]))
  print(f"Results: {os.path.join(_OUTPUT_DIR.value, 'runs')}")


if __name__ == "__main__":
  app.run(main)
