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
import math
import os
import sys

from absl import app, flags, logging

from tfmixup import config as config_lib
from tfmixup import startup

_DATASET = flags.DEFINE_string("dataset", "mnist", "TFDS dataset name (or a label for IDX files in --data_dir).")
_SUBSET = flags.DEFINE_string("subset", "all", "'all', or the digits to keep, e.g. 689 or 147.")
_METHOD = flags.DEFINE_string(
  "method", None, "Training method: erm (no mixing, the default), mixup, cutmix, mixup_cutmix, pair_sampling, ..."
)
_MIXUP = flags.DEFINE_bool("mixup", False, "Short for --method=mixup.")
_PAIR_SAMPLING = flags.DEFINE_bool("pair_sampling", False, "Short for --method=pair_sampling.")
_ALPHA = flags.DEFINE_float("alpha", 1.0, "Beta(alpha, alpha) of Mixup and CutMix (Mixup's in mixup_cutmix), > 0.")
_CUTMIX_ALPHA = flags.DEFINE_float("cutmix_alpha", 1.0, "CutMix's Beta concentration in mixup_cutmix, > 0.")
_SWITCH_PROB = flags.DEFINE_float("switch_prob", 0.5, "mixup_cutmix: probability of CutMix rather than Mixup.")
_PROB = flags.DEFINE_float("prob", 1.0, "Probability that a training example is mixed.")
_LABEL_SMOOTHING = flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing of the training labels, in [0, 1).")
_MIX_START = flags.DEFINE_integer("mix_start", 0, "First epoch (0-based) that mixes.", lower_bound=0)
_MIX_ON = flags.DEFINE_integer("mix_on", 0, "Mix in cycles: epochs on per cycle (0: no cycles).", lower_bound=0)
_MIX_OFF = flags.DEFINE_integer("mix_off", 0, "Epochs off per cycle (with --mix_on).", lower_bound=0)
_OFF_LAST = flags.DEFINE_integer("off_last", 0, "Do not mix in the last N epochs.", lower_bound=0)
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
_JIT_COMPILE = flags.DEFINE_enum(
  "jit_compile", "auto", config_lib.JIT_CHOICES, "Compile the step (XLA): auto = always under JAX, on a GPU under TF."
)
_FEED = flags.DEFINE_enum(
  "feed",
  "auto",
  config_lib.FEED_CHOICES,
  "host: tf.data sends images; device: data resident on the accelerator, mixed in the compiled step; "
  "auto: device when the backend sees an accelerator and the method has a device feed.",
)
_STEPS_PER_EXECUTION = flags.DEFINE_integer(
  "steps_per_execution", 1, "Training steps per compiled call (raise it on an accelerator).", lower_bound=1
)
_TRAIN_SIZE = flags.DEFINE_integer("train_size", None, "Use only the first N training images.", lower_bound=1)
_TRAIN_PER_CLASS = flags.DEFINE_integer(
  "train_per_class", None, "Use only the first N training images of each class.", lower_bound=1
)
_FRACTION = flags.DEFINE_float("fraction", 1.0, "Train on the first part of one epoch, in (0, 1] (needs --epochs=1).")
_SORTED_BUFFER = flags.DEFINE_integer(
  "sorted_buffer", None, "A pipeline fault: class-sorted data through a shuffle buffer of N.", lower_bound=1
)
_EXCLUDE_PAIRS = flags.DEFINE_string(
  "exclude_pairs",
  "",
  "Class pairs that never mix, by their original labels, e.g. 69 or 69,68 (partners redrawn: every example still "
  "mixes); needs a mixing method.",
)
_INPUT_SCALE = flags.DEFINE_float("input_scale", 1.0, "The model multiplies its inputs by this (255: unnormalized).")
_TEACHER = flags.DEFINE_string(
  "teacher",
  "nn",
  "Judge of mixup_filtered, mixup_relabeled and mixup_random_drop: nn (nearest training image) "
  "or a saved .keras model trained without mixing on the same classes.",
)


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


@flags.validator("cutmix_alpha", "must be finite and > 0")
def _cutmix_alpha_ok(value: float) -> bool:
  return math.isfinite(value) and value > 0


@flags.validator("learning_rate", "must be finite and > 0")
def _learning_rate_ok(value: float) -> bool:
  return math.isfinite(value) and value > 0


@flags.validator("prob", "must be a probability in [0, 1]")
def _prob_ok(value: float) -> bool:
  return 0 <= value <= 1


@flags.validator("switch_prob", "must be a probability in [0, 1]")
def _switch_prob_ok(value: float) -> bool:
  return 0 <= value <= 1


@flags.validator("label_smoothing", "must be in [0, 1)")
def _label_smoothing_ok(value: float) -> bool:
  return 0 <= value < 1


flags.register_multi_flags_validator(
  ["method", "mixup", "pair_sampling"],
  lambda f: f["mixup"] + f["pair_sampling"] + (f["method"] is not None) <= 1,
  message="--method, --mixup and --pair_sampling exclude each other: pick one",
)


def _method() -> str:
  if _MIXUP.value:
    return "mixup"
  if _PAIR_SAMPLING.value:
    return "pair_sampling"
  return _METHOD.value or "erm"


def _config() -> config_lib.TrainConfig:
  return config_lib.TrainConfig(
    dataset=_DATASET.value,
    classes=config_lib.parse_subset(_SUBSET.value),
    method=_method(),
    alpha=_ALPHA.value,
    cutmix_alpha=_CUTMIX_ALPHA.value,
    switch_prob=_SWITCH_PROB.value,
    prob=_PROB.value,
    label_smoothing=_LABEL_SMOOTHING.value,
    mix_start=_MIX_START.value,
    mix_on=_MIX_ON.value,
    mix_off=_MIX_OFF.value,
    off_last=_OFF_LAST.value,
    seed=_SEED.value,
    epochs=_EPOCHS.value,
    batch_size=_BATCH_SIZE.value,
    learning_rate=_LEARNING_RATE.value,
    data_dir=_DATA_DIR.value,
    download=_DOWNLOAD.value,
    jit_compile=_JIT_COMPILE.value,
    feed=_FEED.value,
    steps_per_execution=_STEPS_PER_EXECUTION.value,
    train_size=_TRAIN_SIZE.value,
    train_per_class=_TRAIN_PER_CLASS.value,
    fraction=_FRACTION.value,
    sorted_buffer=_SORTED_BUFFER.value,
    input_scale=_INPUT_SCALE.value,
    teacher=_TEACHER.value,
    exclude_pairs=config_lib.parse_pairs(_EXCLUDE_PAIRS.value),
  )


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
  """The console script's entry point."""
  app.run(main)


if __name__ == "__main__":
  run()
