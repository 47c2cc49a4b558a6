"""Mid-run resume: a checkpoint per finished epoch, exact continuation, and stopping on a signal.

A run with an output directory saves, after every finished epoch, the model's
and the optimizer's variables (`epoch-NNNN.weights.h5`) and a small JSON
(`epoch-NNNN.json`: the epoch, the config, the per-epoch history so far and
the weights file's SHA-256) under `<output_dir>/checkpoints/<run_id>/` (`TrainConfig.run_id`),
each written atomically (`outputs.write_atomic`). The two newest are kept, so
that a damaged newest one (a partial copy, a disk fault) falls back to the
one before. A finished run's checkpoints are removed once its results JSON is
written.

Resuming at epoch k is exact: the variables are restored bit for bit, the
per-epoch history is carried over, and the stage's epoch counter is tied to
Keras's epoch number (`EpochSync`), so epoch k gets the pairs and draws an
uninterrupted run gets in epoch k (`tfmixup.datasets.seeds`). On this CPU a
resumed run ends with the same losses and accuracies as an uninterrupted one,
to the bit.

Signals: inside `stop_on_signals()`, SIGINT or SIGTERM asks training to stop
after the current step (`StopOnRequest`); the epoch in progress is dropped,
the last finished epoch's checkpoint stays, and `train` raises `Interrupted`.
A second signal acts as if none had been caught.
"""

import contextlib
import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator

import keras

from tfmixup import outputs
from tfmixup.datasets import seeds

KEEP = 2  # checkpoints kept: the newest and one to fall back on
_NAME = re.compile(r"epoch-(\d{4,})\.json$")


class Interrupted(Exception):  # noqa: N818 - it is not an error: the user asked for it
  """Training stopped on a signal; the message says where it stopped and how to resume."""

  def __init__(self, message: str, signum: int) -> None:
    super().__init__(message)
    self.signum = signum


_stop: dict[str, int | None] = {"signum": None}


def stop_requested() -> int | None:
  """The signal that asked training to stop, or None."""
  return _stop["signum"]


def request_stop(signum: int = signal.SIGINT) -> None:
  """Asks the training in progress to stop after its current step (what a caught signal does)."""
  _stop["signum"] = int(signum)


@contextlib.contextmanager
def stop_on_signals(signums=(signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
  """Within the block, the first SIGINT or SIGTERM asks training to stop (see the module docstring).

  Outside the main thread (where Python cannot catch signals) it does nothing.
  """
  _stop["signum"] = None
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {s: signal.getsignal(s) for s in signums}

  def handler(signum, frame) -> None:
    del frame
    request_stop(signum)
    for s, h in previous.items():  # a second signal is not caught
      signal.signal(s, h)

  for s in signums:
    signal.signal(s, handler)
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)
    _stop["signum"] = None


@dataclasses.dataclass(frozen=True)
class Restored:
  """What a checkpoint gave back: the epochs finished and their history."""

  epoch: int
  history: dict[str, list[float]]


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


class RunCheckpoint:
  """The checkpoints of one run (see the module docstring).

  Args:
    directory: `<output_dir>/checkpoints/<run_id>`.
    config: the run's config as a dict; a checkpoint of another config is
      never restored.
    write: whether this process writes (False on multi-worker non-chiefs).
    log: where one-line notices go (default: stderr).
  """

  def __init__(self, directory: str, config: dict, write: bool = True, log: Callable[[str], None] | None = None):
    self.directory = directory
    self.config = config
    self.write = write
    self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

  def _paths(self) -> list[tuple[int, str]]:
    """(epoch, metadata path) of the saved checkpoints, newest first."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(self.directory), "epoch-*.json")):
      match = _NAME.search(os.path.basename(path))
      if match:
        found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)

  def _load(self, model: keras.Model, path: str) -> Restored:
    """Restores one checkpoint into `model`; raises ValueError or OSError if it is unusable."""
    with open(path) as f:
      meta = json.load(f)
    if not isinstance(meta, dict) or meta.get("config") != self.config:
      raise ValueError("it was saved for another config")
    weights = os.path.join(self.directory, str(meta["weights"]))
    if _sha256(weights) != meta["weights_sha256"]:
      raise ValueError(f"{os.path.basename(weights)} does not match its checksum")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(weights)
    history = {name: [float(v) for v in values] for name, values in meta["history"].items()}
    epoch = int(meta["epoch"])
    if any(len(values) != epoch for values in history.values()):
      raise ValueError("its history does not cover its epochs")
    return Restored(epoch=epoch, history=history)

  def restore(self, model: keras.Model) -> Restored | None:
    """Loads the newest good checkpoint into the compiled `model`; None if there is none.

    A damaged or foreign checkpoint is reported in one line and skipped.
    """
    paths = self._paths()
    for n, (epoch, path) in enumerate(paths):
      try:
        restored = self._load(model, path)
      except (OSError, ValueError, KeyError, TypeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
        fallback = f"trying epoch {paths[n + 1][0]}" if n + 1 < len(paths) else "starting the run from epoch 1"
        self.log(f"tfmixup: checkpoint {path} is unusable ({reason}); {fallback}")
        continue
      if n:
        self.log(f"tfmixup: resuming from the last good checkpoint, epoch {epoch}")
      return restored
    return None

  def save(self, model: keras.Model, epoch: int, history: dict[str, list[float]]) -> None:
    """Saves the state after `epoch` finished epochs; keeps the newest `KEEP`.

    Raises:
      outputs.OutputDirError: the directory cannot be written; older
        checkpoints are left as they were.
    """
    if not self.write:
      return
    stem = os.path.join(self.directory, f"epoch-{epoch:04d}")
    weights, tmp = f"{stem}.weights.h5", f"{stem}.tmp{os.getpid()}.weights.h5"
    try:
      os.makedirs(self.directory, exist_ok=True)
      model.save_weights(tmp)
      with open(tmp, "rb") as f:
        os.fsync(f.fileno())
      os.replace(tmp, weights)
    except OSError as e:
      with contextlib.suppress(OSError):
        os.remove(tmp)
      raise outputs.OutputDirError(f"cannot write {weights}: {e.strerror or e}") from None
    meta = {
      "epoch": epoch,
      "config": self.config,
      "history": history,
      "weights": os.path.basename(weights),
      "weights_sha256": _sha256(weights),
    }
    outputs.write_atomic(f"{stem}.json", json.dumps(meta, indent=1))
    for old, path in self._paths()[KEEP:]:
      with contextlib.suppress(OSError):
        os.remove(path)
        os.remove(os.path.join(self.directory, f"epoch-{old:04d}.weights.h5"))

  def remove(self) -> None:
    """Deletes the run's checkpoints (the run is finished and saved)."""
    if self.write:
      shutil.rmtree(self.directory, ignore_errors=True)


class EpochSync(keras.callbacks.Callback):
  """Ties a stage's epoch counter to Keras's epoch number.

  Keras may iterate the training data before the first epoch (to build the
  model under a distribution strategy, or on JAX), and creates each epoch's
  iterator as the previous epoch ends; the counter alone would then be off
  by one. At `on_train_begin` (after any such look-ahead) the counter is set
  to the first epoch; at each `on_epoch_begin(e)` it must read e (iterator
  not yet made) or e + 1 (made, with e); anything else is set to e.

  Args:
    counter: the stage's `seeds.EpochCounter` (`datasets.epoch_counter`).
    initial_epoch: the epoch `fit` starts at.
  """

  def __init__(self, counter: seeds.EpochCounter, initial_epoch: int) -> None:
    super().__init__()
    self.counter = counter
    self.initial_epoch = initial_epoch

  def on_train_begin(self, logs=None) -> None:
    self.counter.set_next_epoch(self.initial_epoch)

  def on_epoch_begin(self, epoch, logs=None) -> None:
    if self.counter.next_epoch not in (epoch, epoch + 1):
      self.counter.set_next_epoch(epoch)


class StopOnRequest(keras.callbacks.Callback):
  """Stops `fit` after the current step once a stop was requested (`stop_on_signals`)."""

  def on_train_batch_end(self, batch, logs=None) -> None:
    if stop_requested() is not None:
      self.model.stop_training = True


class RunHistory(StopOnRequest):
  """The whole run's per-epoch history (finished epochs only), and stopping on request.

  Args:
    restored: what the run resumed from (None: a fresh run); its history
      comes first.
  """

  def __init__(self, restored: Restored | None = None) -> None:
    super().__init__()
    self.history = {"loss": [], "test_accuracy": []} if restored is None else restored.history
    self.epochs_done = 0 if restored is None else restored.epoch
    self._last_step = -1

  def on_epoch_begin(self, epoch, logs=None) -> None:
    self._last_step = -1

  def on_train_batch_end(self, batch, logs=None) -> None:
    self._last_step = batch  # the step's index (the last one, with steps_per_execution)
    super().on_train_batch_end(batch, logs)

  def on_epoch_end(self, epoch, logs=None) -> None:
    steps = (self.params or {}).get("steps")
    if stop_requested() is not None or (steps and self._last_step + 1 < steps):
      return  # cut short: not a finished epoch
    self.history["loss"].append(float(logs["loss"]))
    self.history["test_accuracy"].append(float(logs["val_accuracy"]))
    self.epochs_done = epoch + 1
    self.finished(epoch + 1)

  def finished(self, epochs_done: int) -> None:
    """Called after each finished epoch."""


class SaveEachEpoch(RunHistory):
  """`RunHistory` that also saves a checkpoint after every finished epoch.

  Args:
    checkpoint: where to save.
    restored: as `RunHistory`.
  """

  def __init__(self, checkpoint: RunCheckpoint, restored: Restored | None = None) -> None:
    super().__init__(restored)
    self.checkpoint = checkpoint

  def finished(self, epochs_done: int) -> None:
    self.checkpoint.save(self.model, epochs_done, self.history)


def interrupted_message(done: int, epochs: int, signum: int) -> str:
  """The one line printed when a run stops on a signal."""
  name = signal.Signals(signum).name
  return (
    f"stopped by {name} after {done} of {epochs} epochs (state saved);"
    f" run the same command again to resume from epoch {done + 1}"
  )
