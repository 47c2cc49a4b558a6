"""The training library: a config and an output directory in, results out.

One run = load (or receive) the data, build the three-conv model, fit it on
the stage the method names, evaluate on the clean (unmixed) training split
and on the test split, and write a results JSON. A run whose JSON already
exists with the same config is read back instead of retrained, so an
interrupted series of runs resumes where it stopped; a run is saved only
once finished, and atomically. Within a run, a checkpoint after every epoch
lets the same call continue an interrupted run exactly (`checkpoints.py`);
one process at a time trains a run in an output directory (`outputs.py`);
with several workers, each trains on its share (`distributed.py`).
"""

import base64
import dataclasses
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import tfmixup
from tfmixup import backend, checkpoints, datasets, distributed, epoch_loop, outputs, summaries
from tfmixup.config import TrainConfig
from tfmixup.errors import ConfigError
from tfmixup.model import build_model

EVAL_BATCH_SIZE = 1024


@dataclasses.dataclass(frozen=True)
class SplitData:
  """The training and test splits of one dataset and class subset."""

  train: datasets.ImageArrays
  test: datasets.ImageArrays


def load_data(config: TrainConfig) -> SplitData:
  """Loads both splits as the config says (dataset, classes, sizes).

  Raises:
    datasets.DataError: (and subclasses) the data cannot be loaded.
  """
  backend.keep_tensorflow_off_accelerators()  # before tf.data first touches a device
  kwargs = dict(data_dir=config.data_dir, classes=config.classes, download=config.data_dir is None or config.download)
  train = datasets.load_arrays(config.dataset, "train", **kwargs)
  test = datasets.load_arrays(config.dataset, "test", **kwargs)
  return _sized(SplitData(train=train, test=test), config)


def _sized(data: SplitData, config: TrainConfig) -> SplitData:
  """The splits cut to the config's sizes; a size beyond the data is said in one line on stderr.

  (The result's `train_examples` and `test_examples` record the sizes used.)
  """
  train, test = data.train, data.test
  if config.train_per_class is not None:
    smallest = int(np.min(np.bincount(train.labels, minlength=train.num_classes)))
    if smallest < config.train_per_class:
      _notice(f"train_per_class={config.train_per_class}, but a class has only {smallest:,} training images")
    train = train.take_per_class(config.train_per_class)
  for name, size, split in (("train_size", config.train_size, "training"), ("test_size", config.test_size, "test")):
    part = train if split == "training" else test
    if size is not None and size > len(part):
      _notice(f"{name}={size}, but the {split} split has {len(part):,} images: using all {len(part):,}")
  if config.train_size is not None:
    train = train.take(config.train_size)
  if config.test_size is not None:
    test = test.take(config.test_size)
  return SplitData(train=train, test=test)


def _notice(line: str) -> None:
  print(f"tfmixup: {line}", file=sys.stderr, flush=True)


def data_for(config: TrainConfig, full: SplitData) -> SplitData:
  """The splits `load_data(config)` loads, cut from `full` (all classes, both splits whole) in memory."""
  if config.classes is not None:
    full = SplitData(*(datasets.select_classes(split, config.classes) for split in (full.train, full.test)))
  return _sized(full, config)


def resolve_jit_compile(setting: str) -> bool:
  """Whether to compile the training step: "auto" as `tfmixup.backend.resolve_jit_compile` says."""
  return backend.resolve_jit_compile(setting)


def resolve_feed(config: TrainConfig, backend_info: backend.BackendInfo | None = None, num_workers: int = 1) -> str:
  """ "host" or "device".

  "auto" is the device feed when the backend has an accelerator, the method
  a device feed, and training runs on one device (the device feed does not
  shard: with several workers or devices, the stage); and always under the
  epoch loop (`resolve_loop`), which trains on it.
  """
  if config.feed != "auto":
    return config.feed
  backend_info = backend_info or backend.info()
  if resolve_loop(config, backend_info, num_workers) == "epoch":
    return "device"
  one_device = num_workers == 1
  return "device" if backend_info.accelerated and one_device and config.method_spec.has_device_feed else "host"


def resolve_loop(config: TrainConfig, backend_info: backend.BackendInfo | None = None, num_workers: int = 1) -> str:
  """ "fit" or "epoch" (`tfmixup.epoch_loop`).

  "auto" is the epoch loop under JAX on an accelerator, for a method with a
  device feed (not forced onto the host stage by `feed`), on one device;
  else `fit`.

  Raises:
    ConfigError: "epoch" under another backend than JAX.
    distributed.ClusterError: "epoch" with several workers (it trains on one device).
  """
  backend_info = backend_info or backend.info()
  if config.loop == "epoch":
    if backend_info.name != "jax":
      raise ConfigError(f"loop 'epoch' needs KERAS_BACKEND=jax, not {backend_info.name!r}; use loop 'fit'")
    if num_workers > 1:
      raise distributed.ClusterError("loop 'epoch' trains on one device: use loop 'fit' or 'auto' with workers")
    return "epoch"
  if config.loop == "fit":
    return "fit"
  eligible = config.method_spec.has_device_feed and config.feed != "host" and num_workers == 1
  return "epoch" if backend_info.name == "jax" and backend_info.accelerated and eligible else "fit"


def training_stage(
  config: TrainConfig, train: datasets.ImageArrays, initial_epoch: int = 0, **options
) -> tf.data.Dataset:
  """The tf.data pipeline the config's method trains on (see `tfmixup.methods`); `options`: more stage options."""
  return config.method_spec.training_data(train, config, initial_epoch=initial_epoch, **options)


def fraction_steps(config: TrainConfig, train_examples: int) -> int:
  """Steps of a run with `config.fraction` < 1: that share of one epoch's batches, at least one."""
  return max(1, round(config.fraction * -(-train_examples // config.batch_size)))


def _package_version(name: str) -> str:
  """A package's installed version; never raises (a run must not be lost to it)."""
  try:
    return importlib.metadata.version(name)
  except Exception:  # noqa: BLE001 - any failure means "unknown"
    return "unknown"


def git_commit() -> str | None:
  """The tfmixup source tree's git commit, or None outside a git checkout or without git.

  "-dirty" is appended when a tracked Python file or pyproject.toml differs
  from the commit: the code, not the outputs (a grid regenerating the
  tracked `results/` is not "dirty").
  """
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    commit = subprocess.run(
      ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()
    dirty = subprocess.run(
      ["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", "*.py", "pyproject.toml"],
      capture_output=True,
      text=True,
      timeout=10,
      check=True,
    ).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return f"{commit}-dirty" if dirty else commit or None


def _safely(get, default: str | None = "unknown") -> str | None:
  try:
    value = get()
  except Exception:  # noqa: BLE001 - a run must not be lost to a version string
    return default
  return default if value is None else str(value)


def library_versions() -> dict[str, str | None]:
  """Versions a run depends on; never raises (an unreadable one is "unknown")."""
  return {
    "tfmixup": tfmixup.__version__,
    "git_commit": _safely(git_commit, None),
    "python": _safely(platform.python_version),
    "tensorflow": _safely(lambda: tf.__version__),
    "keras": _safely(lambda: keras.__version__),
    "tensorflow_datasets": _package_version("tensorflow-datasets"),
    "numpy": _safely(lambda: np.__version__),
  }


OutputDirError = outputs.OutputDirError  # the output directory cannot be created or written


def prepare_output_dir(output_dir: str) -> None:
  """Creates `output_dir` if needed and checks that it is a writable directory.

  Called before any training, so that a bad directory fails at once rather
  than after a finished run.

  Raises:
    OutputDirError: it is a file, cannot be created, or is not writable.
  """
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise OutputDirError(f"output directory {output_dir!r} exists and is not a directory")
  try:
    os.makedirs(output_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=output_dir):
      pass
  except OSError as e:
    raise OutputDirError(f"output directory {output_dir!r} is not writable: {e.strerror or e}") from None


def compile_model(config: TrainConfig, input_shape, num_classes: int) -> keras.Model:
  """The model compiled for training, as the config's method wants it (`Method.wrap_model`, `Method.trainer`)."""
  return build_trainer(config, input_shape, num_classes)[1]


def build_trainer(
  config: TrainConfig, input_shape, num_classes: int, feed: datasets.DeviceFeed | None = None
) -> tuple[keras.Model, keras.Model]:
  """The model and the compiled model that trains it.

  Returns:
    `(model, trainer)`: the method's model (takes images) and the model
    compiled for training: the model itself; with a device `feed`,
    `feed.model(model)` (takes the feed's indices; shares the weights);
    for a method with a trainer (`Method.trainer`), the trainer (takes the
    stage's batches; shares the weights).
  """
  method = config.method_spec
  model = method.model(build_model(input_shape, num_classes, input_scale=config.input_scale), config)
  trainer = method.training_model(model, config) if feed is None else feed.model(model)
  trainer.compile(
    optimizer=keras.optimizers.Adam(config.learning_rate),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    jit_compile=resolve_jit_compile(config.jit_compile),
    steps_per_execution=config.steps_per_execution,
  )
  return model, trainer


class _TestAccuracy(keras.callbacks.Callback):
  """Adds "val_accuracy" on the clean test split to each epoch's logs (for a trainer that takes no images)."""

  def __init__(self, model: keras.Model, test: datasets.ImageArrays) -> None:
    super().__init__()
    self._images_model, self._test = model, test

  def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
    if logs is not None:
      logs["val_accuracy"] = accuracy(self._images_model, self._test)


def predicted_classes(model: keras.Model, data: datasets.ImageArrays) -> np.ndarray:
  """The model's class for each image of `data` (clean images), int `[N]`."""
  logits = model.predict(datasets.batches(data, batch_size=EVAL_BATCH_SIZE), verbose=0)
  return np.argmax(logits, axis=1)


def accuracy(model: keras.Model, data: datasets.ImageArrays) -> float:
  """Fraction of `data` the model classifies correctly (clean images)."""
  return float(np.mean(predicted_classes(model, data) == data.labels))


def confusion(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[list[int]]:
  """Counts `[K][K]`: row = true class, column = predicted class."""
  counts = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(counts, (labels, predicted), 1)
  return counts.tolist()


def _write_json_atomic(path: str, payload: dict) -> None:
  outputs.write_atomic(path, json.dumps(payload, indent=1))


def _legacy_name_holds(output_dir: str, config: TrainConfig) -> bool:
  """Whether `runs/<run_name>.json` (as tfmixup 0.2.0-0.5.0 named results) holds a result of this config."""
  stored = _stored_config(os.path.join(output_dir, "runs", f"{config.run_name}.json"))
  return stored is not None and stored == config


def _stored_config(path: str) -> TrainConfig | None:
  """The config of the result JSON at `path` (None: no such file, or not a result)."""
  try:
    with open(path) as f:
      result = json.load(f)
    # Through from_dict, so a run saved before a config field was added (with its default value) still matches.
    return TrainConfig.from_dict(result["config"])
  except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
    return None


def _file_name(output_dir: str, config: TrainConfig) -> str:
  """The run's results and model file name: `config.run_id`, or `config.run_name` where a result of this
  config was saved under it by tfmixup 0.2.0-0.5.0 (and not under `run_id`), so that older results, and
  the model paths other configs name as their teacher, stay where they are."""
  new = os.path.join(output_dir, "runs", f"{config.run_id}.json")
  if (not os.path.exists(new) or _stored_config(new) != config) and _legacy_name_holds(output_dir, config):
    return config.run_name
  return config.run_id


def result_path(output_dir: str, config: TrainConfig) -> str:
  """Where the run's results JSON is (or goes): `<output_dir>/runs/<run_id>.json`, or a 0.2.0-0.5.0 name."""
  return os.path.join(output_dir, "runs", f"{_file_name(output_dir, config)}.json")


def model_path(output_dir: str, config: TrainConfig) -> str:
  """Where the run's trained model is saved: `<output_dir>/models/<run_id>.keras` (or its 0.2.0-0.5.0 name)."""
  return os.path.join(output_dir, "models", f"{_file_name(output_dir, config)}.keras")


def checkpoint_dir(output_dir: str, config: TrainConfig) -> str:
  """The run's mid-run checkpoints: `<output_dir>/checkpoints/<run_id>/` (removed once the run is saved)."""
  return os.path.join(output_dir, "checkpoints", config.run_id)


def check_not_taken(output_dir: str, config: TrainConfig) -> None:
  """Raises OutputDirError if the run's results file holds another config's result (a hash collision).

  The one line says how to proceed; nothing is overwritten.
  """
  path = result_path(output_dir, config)
  stored = _stored_config(path)
  if stored is not None and stored != config:
    raise OutputDirError(
      f"{path} holds the result of another config; not replacing it: use another output directory or move the file"
    )


RUN_SUBDIRS = ("runs", "checkpoints", "locks")  # what every run with an output directory writes


def check_run_dirs(output_dir: str, *, save_model: bool = False, tensorboard: bool = False) -> None:
  """Creates and checks every folder a run writes under `output_dir`, before it trains.

  Raises:
    OutputDirError: one of them is a file, cannot be created, or is not writable.
  """
  names = RUN_SUBDIRS + ("models",) * save_model + ("tensorboard",) * tensorboard
  for name in names:
    prepare_output_dir(os.path.join(output_dir, name))


# Runs saved by older versions are not reused: before 0.2.0 the in-memory
# stages paired examples with nearly fixed partners (see CHANGELOG.md).
OLDEST_REUSABLE_VERSION = (0, 2, 0)


def _version_tuple(text: object) -> tuple[int, ...]:
  try:
    return tuple(int(part) for part in str(text).split(".")[:3])
  except ValueError:
    return ()


def read_result(output_dir: str, config: TrainConfig) -> dict | None:
  """A finished run's results, if saved with exactly this config by tfmixup >= 0.2.0.

  Found under `runs/<run_id>.json`, or under `runs/<run_name>.json` as 0.2.0-0.5.0 saved it.
  """
  path = result_path(output_dir, config)
  try:
    with open(path) as f:
      result = json.load(f)
  except (OSError, json.JSONDecodeError):
    return None
  try:
    # Through from_dict, so a run saved before a config field was added (with
    # its default value) still matches.
    if not isinstance(result, dict) or TrainConfig.from_dict(result["config"]) != config:
      return None
  except (KeyError, TypeError, ValueError):
    return None
  version = (result.get("versions") or {}).get("tfmixup")
  return result if _version_tuple(version) >= OLDEST_REUSABLE_VERSION else None


def saved_result(output_dir: str, config: TrainConfig, with_model: bool = False) -> dict | None:
  """A finished run's results (None if not saved, or saved without a needed model)."""
  result = read_result(output_dir, config)
  if result is None or (with_model and not os.path.exists(model_path(output_dir, config))):
    return None
  return result


def train(
  config: TrainConfig,
  output_dir: str | None = None,
  data: SplitData | None = None,
  verbose: int | str = "auto",
  save_model: bool = False,
  *,
  tensorboard: bool = True,
) -> dict:
  """Trains and evaluates one run, or reads it back if already saved.

  Args:
    config: the run.
    output_dir: where to write `runs/<run_id>.json` (`TrainConfig.run_id`;
      a result of another config is never replaced) and TensorBoard logs
      (`tensorboard/<run_id>/`); None writes nothing.
    data: the splits, to share one load across runs (default: load them).
    verbose: Keras progress display: "auto" shows a bar on a terminal and a
      line per epoch otherwise.
    save_model: also save the trained model to `models/<run_id>.keras`
      (a saved run without its model is then trained again).
    tensorboard: write TensorBoard logs and example images (with an
      `output_dir`); grids of hundreds of short runs turn them off.

  Returns:
    The results: config, history (per epoch: loss on the training stage,
    test accuracy), train_accuracy (clean training split), test_accuracy,
    test_confusion (counts, row = true class, column = predicted; None
    with several workers), optimizer_steps, wall_time_s, versions (tfmixup, git_commit, libraries), device.

  Raises:
    OutputDirError: `output_dir` or a folder the run writes in it is not
      a writable directory (checked before training), its results file
      holds another config's result, or a write failed (full disk): one
      line, and the files written before are intact.
    outputs.RunLockedError: another process is training this run in
      `output_dir`.
    checkpoints.Interrupted: a stop was requested (a signal, within
      `checkpoints.stop_on_signals`); the last finished epoch is saved.
    distributed.ClusterError: a malformed TF_CONFIG.
  """
  workers = distributed.from_environment()
  if output_dir is not None:
    prepare_output_dir(output_dir)
    saved = saved_result(output_dir, config, with_model=save_model)
    if saved is not None:
      return saved
    if workers.is_chief:
      check_run_dirs(output_dir, save_model=save_model, tensorboard=tensorboard)
      check_not_taken(output_dir, config)
      with outputs.lock_run(output_dir, config.run_id):
        saved = saved_result(output_dir, config, with_model=save_model)  # another process may have finished it
        return (
          saved if saved is not None else _train(config, output_dir, data, verbose, save_model, workers, tensorboard)
        )
  return _train(config, output_dir, data, verbose, save_model, workers, tensorboard)


def _models(
  config: TrainConfig, train: datasets.ImageArrays, feed: str, workers: distributed.Workers
) -> tuple[keras.Model, keras.Model, datasets.DeviceFeed | None]:
  """The model, its trainer (`build_trainer`) and, for the device feed, the feed."""
  device_feed = None
  if config.method_spec.trainer is not None and workers.num_workers > 1:
    raise distributed.ClusterError(f"method {config.method!r} trains with its own trainer on one worker only")
  if feed == "device":
    if workers.num_workers > 1:
      raise distributed.ClusterError("the device feed trains on one device: use feed 'host' or 'auto' with workers")
    # Built before a checkpoint is read (the trainer needs its layer), so at
    # epoch 0: EpochSync then sets its epoch as it does the stage's.
    device_feed = config.method_spec.device_training_data(train, config)
  with workers.scope():
    model, trainer = build_trainer(config, train.images.shape[1:], train.num_classes, feed=device_feed)
  return model, trainer, device_feed


def _fit(  # noqa: PLR0917 - the two models, the data, then fit's arguments
  workers: distributed.Workers,
  model: keras.Model,
  trainer: keras.Model,
  stage: tf.data.Dataset,
  test: datasets.ImageArrays,
  validate: bool,
  **fit_args,
) -> None:
  """`trainer.fit` alone (test accuracy per epoch if `validate`), or the multi-worker loop on `model`."""
  test_batches = datasets.batches(test, batch_size=EVAL_BATCH_SIZE)
  if workers.strategy is None:
    validation_data = test_batches if validate else None
    # shuffle=False: the stages shuffle; Keras cannot shuffle a Dataset.
    trainer.fit(stage, shuffle=False, validation_data=validation_data, **fit_args)
  else:
    distributed.fit_multi_worker(workers, model, stage, test=(test_batches, test.labels), **fit_args)


def encode_predictions(predicted: np.ndarray, num_classes: int) -> str:
  """Per-image predicted classes `[N]`, compact: base64 of uint8 (uint16 above 256 classes)."""
  dtype = np.uint8 if num_classes <= 256 else np.uint16
  return base64.b64encode(np.asarray(predicted, dtype).tobytes()).decode("ascii")


def decode_predictions(result: dict) -> np.ndarray | None:
  """A run JSON's `test_predictions` as int64 `[test_examples]` (None if the run has none)."""
  text = result.get("test_predictions")
  if text is None:
    return None
  dtype = np.uint8 if len(result["class_names"]) <= 256 else np.uint16
  return np.frombuffer(base64.b64decode(text), dtype).astype(np.int64)


def _train(  # noqa: PLR0914, PLR0915, PLR0917 - one run, read top to bottom
  config: TrainConfig,
  output_dir: str | None,
  data: SplitData | None,
  verbose: int | str,
  save_model: bool,
  workers: distributed.Workers,
  tensorboard: bool = True,
) -> dict:
  start = time.perf_counter()
  versions = library_versions()  # before training: nothing after it may fail
  backend.keep_tensorflow_off_accelerators()  # before TensorFlow touches a device
  backend_info = backend.info()
  loop = resolve_loop(config, backend_info, workers.num_workers)  # (its errors before the data loads)
  data = data if data is not None else load_data(config)
  feed = resolve_feed(config, backend_info, workers.num_workers)
  keras.utils.set_random_seed(config.seed)
  model, trainer, device_feed = _models(config, data.train, feed, workers)
  checkpoint, restored = None, None
  if output_dir is not None:
    checkpoint = checkpoints.RunCheckpoint(checkpoint_dir(output_dir, config), config.to_dict(), workers.is_chief)
    restored = checkpoint.restore(trainer)  # the trainer holds the optimizer (the data is not saved)
  initial_epoch = distributed.agree_on_epoch(workers, restored.epoch if restored else 0)
  history = checkpoints.SaveEachEpoch(checkpoint, restored) if checkpoint else checkpoints.RunHistory()
  if device_feed is None:
    stage = training_stage(config, data.train, initial_epoch=initial_epoch, **workers.stage_options())
  else:
    stage = device_feed.dataset
  callbacks = [history]
  counter = datasets.epoch_counter(stage)
  if counter is not None:
    callbacks.insert(0, checkpoints.EpochSync(counter, initial_epoch))
  if config.fraction < 1:  # training shorter than the one epoch: its first steps
    stage = stage.take(fraction_steps(config, len(data.train)))
  # The trainer takes what the model does not (indices, or a method's own batches): test accuracy on the model.
  validate = trainer is model
  if output_dir is not None and workers.is_chief and tensorboard:
    log_dir = os.path.join(output_dir, "tensorboard", config.run_id)
    callbacks.append(keras.callbacks.TensorBoard(log_dir))
    if restored is None and config.method_spec.trainer is None:
      # A stage of its own, same seed: the first batch training will see
      # (the device feed's batches are the stage's; a trainer's batches are not images: none).
      examples = training_stage(config, data.train)
      summaries.write_training_examples(os.path.join(log_dir, "examples"), examples, data.train.class_names)
  if verbose == "auto":
    verbose = 1 if sys.stdout.isatty() else 2
  if not validate:
    # The test accuracy is measured on the model, before the history records the epoch.
    callbacks.insert(callbacks.index(history), _TestAccuracy(model, data.test))
  fit_args = dict(epochs=config.epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose)
  if loop == "epoch":  # each epoch of the device feed at once (the test accuracy comes from _TestAccuracy)
    steps = fraction_steps(config, len(data.train)) if config.fraction < 1 else None
    epoch_loop.fit(trainer, device_feed, steps_per_epoch=steps, **fit_args)
  else:
    _fit(workers, model, trainer, stage, data.test, validate=validate, **fit_args)
  signum = checkpoints.stop_requested()
  if signum is not None:
    raise checkpoints.Interrupted(checkpoints.interrupted_message(history.epochs_done, config.epochs, signum), signum)
  evaluate = accuracy if workers.strategy is None else distributed.accuracy
  test_confusion = None
  if workers.strategy is None:
    predicted = predicted_classes(model, data.test)
    test_confusion = confusion(data.test.labels, predicted, data.test.num_classes)
  result = {
    "config": config.to_dict(),
    "class_names": list(data.train.class_names),
    "train_examples": len(data.train),
    "test_examples": len(data.test),
    "history": history.history,
    "train_accuracy": evaluate(model, data.train),
    "test_accuracy": evaluate(model, data.test)
    if test_confusion is None
    else float(np.mean(predicted == data.test.labels)),
    "test_confusion": test_confusion,
    # Per test image, in the test split's order (`decode_predictions`): for tests over test images.
    "test_predictions": None if test_confusion is None else encode_predictions(predicted, data.test.num_classes),
    "optimizer_steps": int(keras.ops.convert_to_numpy(trainer.optimizer.iterations)),
    "wall_time_s": time.perf_counter() - start,
    "backend": backend_info.name,
    "devices": list(backend_info.devices),
    "jit_compile": loop == "epoch" or bool(trainer.jit_compile),
    "feed": feed,
    "loop": loop,
    "steps_per_execution": config.steps_per_execution,
    "device": "GPU" if backend_info.accelerated else "CPU",
    "workers": workers.num_workers,
    "versions": versions,
  }
  if output_dir is not None and workers.is_chief:
    if save_model:
      try:
        os.makedirs(os.path.dirname(model_path(output_dir, config)), exist_ok=True)
        model.save(model_path(output_dir, config))
      except OSError as e:
        raise OutputDirError(f"cannot write {model_path(output_dir, config)}: {e.strerror or e}") from None
    check_not_taken(output_dir, config)  # (checked before training too)
    _write_json_atomic(result_path(output_dir, config), result)
    checkpoint.remove()
  return result


def train_runs(
  config: TrainConfig, runs: int, output_dir: str | None = None, verbose: int | str = "auto"
) -> list[dict]:
  """Repeats a run with seeds seed, seed+1, ..., sharing one data load.

  Returns:
    One result per run, in seed order.
  """
  configs = [dataclasses.replace(config, seed=config.seed + i) for i in range(runs)]
  if output_dir is not None:
    prepare_output_dir(output_dir)
  pending = [c for c in configs if output_dir is None or read_result(output_dir, c) is None]
  data = load_data(config) if pending else None
  return [train(c, output_dir, data=data, verbose=verbose) for c in configs]
