"""The epoch loop: one compiled call per epoch under JAX, in place of Keras's `fit`.

Under JAX, Keras 3's `fit` runs its compiled step from a Python loop: one
dispatch, one host round trip and one round of callbacks per step (or per
`steps_per_execution` steps). On a GPU that loop, not the model, sets the
pace: `fit` on arrays already in memory reached 0.26x (batch 128) and
0.62x (batch 1024) of the same model trained by a plain-JAX `lax.scan`
over the epoch (`../shared/ANCHORS.md`, an H200).

`fit` here is that scan with Keras's own step: the trainer's stateless
`train_step(state, batch)` (the JAX trainer's: `stateless_call`, the
loss, the optimizer's `stateless_apply`, the metrics), run by one
`jax.jit`-compiled `jax.lax.scan` over all of an epoch's batches. With a
device feed (`tfmixup.datasets.device_feed`), a batch is a few index and
weight arrays: the whole epoch's (`[steps, B]` each, drawn on the host by
the stage's seed tree, `DeviceFeed.whole_epoch`) is sent to the device
once, made while the device trains the epoch before, and the gathering
and mixing happen inside the scan, where the images already are.

What `fit` gives is kept, at epoch granularity: the `History`; callbacks
(`on_epoch_begin`/`on_epoch_end` as `fit` calls them; the batch hooks once
per epoch, `on_train_batch_begin(0)` and `on_train_batch_end(steps - 1)`,
as `fit` does with `steps_per_execution` = steps per epoch), so
checkpoints, TensorBoard, early stopping and `stop_training` work;
validation after each epoch; `initial_epoch` to resume. The model's
variables hold the trained values after each epoch (callbacks see them).

  feed = tfmixup.datasets.device_mixup(train, batch_size=128, seed=0, alpha=1.0)
  trainer = feed.model(model)
  trainer.compile(optimizer="adam", loss=..., metrics=[...])
  history = tfmixup.epoch_loop.fit(trainer, feed, epochs=10)

The batches must have one shape within an epoch except a smaller last one
(it runs as its own compiled step). On this CPU the loop matches `fit` on
the same batches to float rounding (`tests/test_epoch_loop.py` states the
tolerance); `BENCHMARKS.md` has its speed.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np

from tfmixup.errors import ConfigError

__all__ = ["fit", "stack_epoch"]


def check_backend() -> None:
  """Raises ConfigError unless Keras runs on JAX (the loop is a `jax.lax.scan`)."""
  name = keras.backend.backend()
  if name != "jax":
    raise ConfigError(f"the epoch loop needs KERAS_BACKEND=jax, not {name!r}; use Keras's fit")


def stack_epoch(batches) -> tuple[object | None, object | None, int]:
  """One epoch's batches stacked along a new leading axis, for the scan.

  Args:
    batches: an iterable of batches (nested numpy arrays, one epoch), all of
      one shape except perhaps a smaller last one.

  Returns:
    `(stacked, last, steps)`: the batches of the first batch's shape as
    arrays `[S, ...]` (None if there are none), a smaller last batch or
    None, and the number of batches.

  Raises:
    ValueError: a batch other than the last has another shape.
  """
  tree = keras.tree
  full, last, steps = [], None, 0
  for batch in batches:
    if last is not None:
      raise ValueError("the epoch loop needs batches of one shape (a smaller last one is allowed)")
    shapes = [np.shape(leaf) for leaf in tree.flatten(batch)]
    if full and shapes != [np.shape(leaf) for leaf in tree.flatten(full[0])]:
      last = batch
    else:
      full.append(batch)
    steps += 1
  stacked = tree.map_structure(lambda *leaves: np.stack(leaves), *full) if full else None
  return stacked, last, steps


class _Steps:
  """The trainer's step as compiled functions: a scan over stacked batches, and one batch."""

  def __init__(self, trainer: keras.Model) -> None:
    import jax  # noqa: PLC0415 - JAX only where the loop runs

    def run_epoch(state, stacked):
      def body(state, batch):
        logs, state = trainer.train_step(state, batch)
        return state, logs

      state, logs = jax.lax.scan(body, state, stacked)
      return jax.tree_util.tree_map(lambda values: values[-1], logs), state

    def run_one(state, batch):
      return trainer.train_step(state, batch)

    self.epoch = jax.jit(run_epoch, donate_argnums=0)
    self.one = jax.jit(run_one, donate_argnums=0)


def _steps(trainer: keras.Model) -> _Steps:
  """The trainer's compiled steps, made once per compiled optimizer (a later `fit` call reuses them)."""
  cached = trainer.__dict__.get("_tfmixup_epoch_steps")
  if cached is None or cached[0] is not trainer.optimizer:
    cached = (trainer.optimizer, _Steps(trainer))
    object.__setattr__(trainer, "_tfmixup_epoch_steps", cached)  # (not a tracked attribute of the model)
  return cached[1]


def _state(trainer: keras.Model) -> tuple:
  """The training state as the compiled steps take it, each array committed to its sharding.

  A variable's first value is uncommitted and a compiled step's output committed; JAX 0.4 keys its
  compiled functions on the difference, so without the `device_put` the second epoch compiles again.
  """
  import jax  # noqa: PLC0415 - JAX only where the loop runs

  values = (
    [v.value for v in trainer.trainable_variables],
    [v.value for v in trainer.non_trainable_variables],
    [v.value for v in trainer.optimizer.variables],
    [v.value for v in trainer.metrics_variables],
  )
  return jax.device_put(values, jax.tree_util.tree_map(lambda value: value.sharding, values))


def _assign(trainer: keras.Model, state: tuple) -> None:
  trainable, non_trainable, optimizer, metrics = state
  groups = (
    (trainer.trainable_variables, trainable),
    (trainer.non_trainable_variables, non_trainable),
    (trainer.optimizer.variables, optimizer),
    (trainer.metrics_variables, metrics),
  )
  for variables, values in groups:
    for variable, value in zip(variables, values, strict=True):
      variable.assign(value)


def _record_shardings(trainer: keras.Model) -> None:
  """Records the state's shardings, which Keras 3.10's `train_step` reads (as its `fit` does before training)."""
  record = getattr(trainer, "_record_training_state_sharding_spec", None)
  if record is not None:
    record()


def _float_logs(logs: dict) -> dict:
  return {name: float(np.asarray(value)) for name, value in logs.items()}


class _Epochs:
  """Where each epoch's batches come from: a device feed's whole epochs, or any dataset's batches stacked."""

  def __init__(self, data, steps_per_epoch: int | None) -> None:
    self.steps_per_epoch = steps_per_epoch
    self.whole = getattr(data, "whole_epoch", None)  # a DeviceFeed's epochs, each made at once
    self._ready: tuple | None = None  # (epoch, its batches) made ahead
    self.dataset = getattr(data, "dataset", data) if self.whole is not None else data
    if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or steps_per_epoch < 1):
      raise ValueError(f"steps_per_epoch must be a positive integer or None, got {steps_per_epoch!r}")

  def example(self):
    """A batch of one example, zeros of the batches' structure and dtypes (builds the trainer; draws nothing)."""
    spec = getattr(self.dataset, "element_spec", None)
    if spec is None:  # not a tf.data.Dataset: its first batch
      first = next(iter(self.dataset), None)
      if first is None:
        raise ValueError("the epoch loop got an empty dataset")
      return first
    return keras.tree.map_structure(lambda s: np.zeros([1, *s.shape[1:]], s.dtype.as_numpy_dtype), spec)

  def steps(self) -> int | None:
    """Steps per epoch if known before the first epoch (the progress bar's target)."""
    cardinality = int(self.dataset.cardinality()) if hasattr(self.dataset, "cardinality") else -1
    if cardinality < 1:
      return self.steps_per_epoch
    return cardinality if self.steps_per_epoch is None else min(cardinality, self.steps_per_epoch)

  def get(self, epoch: int) -> tuple:
    """Epoch `epoch`: `(stacked [S, ...] or None, a smaller last batch or None, steps)`.

    A device feed makes that epoch (or made it ahead, `prepare`); another
    dataset is iterated once (its own next epoch).
    """
    if self._ready is not None and self._ready[0] == epoch:
      ready, self._ready = self._ready[1], None
      return ready
    if self.whole is None:
      batches = self.dataset.as_numpy_iterator() if hasattr(self.dataset, "as_numpy_iterator") else self.dataset
      if self.steps_per_epoch is not None:
        batches = itertools.islice(batches, self.steps_per_epoch)
      stacked, last, steps = stack_epoch(batches)
      if steps == 0:
        raise ValueError("the epoch loop got an empty dataset")
      return stacked, last, steps
    full_inputs, full_labels, rest_inputs, rest_labels = self.whole(epoch)
    stacked, last = (full_inputs, full_labels), (rest_inputs, rest_labels)
    full, rest = len(full_labels), len(rest_labels)
    if self.steps_per_epoch is not None and self.steps_per_epoch <= full:
      stacked = keras.tree.map_structure(lambda v: v[: self.steps_per_epoch], stacked)
      full, rest = self.steps_per_epoch, 0
    return (stacked if full else None), (last if rest else None), full + (rest > 0)

  def prepare(self, epoch: int) -> None:
    """Makes a device feed's epoch `epoch` now and starts sending it to the device (while it trains)."""
    if self.whole is not None:
      import jax  # noqa: PLC0415 - JAX only where the loop runs

      stacked, last, steps = self.get(epoch)
      self._ready = (epoch, (jax.device_put(stacked), jax.device_put(last), steps))


def fit(  # noqa: PLR0913 - fit's own arguments
  trainer: keras.Model,
  data,
  *,
  epochs: int = 1,
  initial_epoch: int = 0,
  callbacks=None,
  verbose: int | str = "auto",
  steps_per_epoch: int | None = None,
  validation_data=None,
  validation_model: keras.Model | None = None,
) -> keras.callbacks.History:
  """Trains `trainer` on `data` as `trainer.fit(data, ...)` does, one compiled call per epoch.

  Args:
    trainer: a compiled Keras model (JAX backend). Its `train_step` runs
      inside the scan (a custom stateless `train_step` works too).
    data: a `tfmixup.datasets.DeviceFeed` (epoch e's batches made at once,
      `DeviceFeed.whole_epoch(e)`; `trainer` is then `feed.model(...)`), or
      the training batches, iterated once per epoch (a `tf.data.Dataset`
      or any re-iterable of numpy batches, `(x, y)` with `x` what the
      trainer takes), stacked on the host.
    epochs: the epoch to train up to (as `fit`'s `epochs`).
    initial_epoch: the epoch to start at (resuming).
    callbacks: Keras callbacks (see the module docstring for when each hook runs).
    verbose: 0 silent, 1 progress bar, 2 one line per epoch, "auto" (1).
    steps_per_epoch: train only each epoch's first batches (None: all).
    validation_data: evaluated after each epoch with `validation_model`'s
      (default: `trainer`'s) `evaluate`; its logs get the prefix "val_".
    validation_model: a compiled model sharing the trainer's weights that
      takes `validation_data` (e.g. the image model under a device feed's
      trainer).

  Returns:
    The `keras.callbacks.History` (also `trainer.history`).

  Raises:
    ConfigError: the backend is not JAX, or `trainer` is not compiled.
    ValueError: an empty epoch, or batches of an epoch that differ in shape
      (except a smaller last one).
  """
  check_backend()
  if not getattr(trainer, "compiled", False):
    raise ConfigError("the epoch loop needs a compiled model: call trainer.compile(...) first")
  source = _Epochs(data, steps_per_epoch)
  trainer._symbolic_build(data_batch=source.example())  # noqa: SLF001 - builds the optimizer and metrics as fit does
  verbose = 1 if verbose == "auto" else verbose
  callbacks = keras.callbacks.CallbackList(
    callbacks,
    add_history=True,
    add_progbar=verbose != 0,
    verbose=verbose,
    epochs=epochs,
    steps=source.steps(),
    model=trainer,
  )
  steps = _steps(trainer)
  trainer.stop_training = False
  logs: dict = {}
  callbacks.on_train_begin()
  for epoch in range(initial_epoch, epochs):
    trainer.reset_metrics()
    callbacks.on_epoch_begin(epoch)  # before the epoch's batches are drawn (a stage's EpochSync)
    stacked, last, num_steps = source.get(epoch)
    callbacks.on_train_batch_begin(0)
    _record_shardings(trainer)  # each epoch: a validation `evaluate` clears them (Keras 3.10)
    state = _state(trainer)
    if stacked is not None:
      step_logs, state = steps.epoch(state, stacked)
    if last is not None:
      step_logs, state = steps.one(state, last)
    if epoch + 1 < epochs:
      source.prepare(epoch + 1)  # on the host while the device trains this epoch (its dispatch is asynchronous)
    _assign(trainer, state)
    logs = _float_logs(step_logs)
    callbacks.on_train_batch_end(num_steps - 1, logs)
    epoch_logs = dict(logs)
    if validation_data is not None:
      evaluator = validation_model or trainer
      x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(validation_data)
      val_logs = evaluator.evaluate(x, y, sample_weight=sample_weight, verbose=0, return_dict=True)
      epoch_logs.update({f"val_{name}": float(value) for name, value in val_logs.items()})
    callbacks.on_epoch_end(epoch, epoch_logs)
    logs = epoch_logs
    if trainer.stop_training:
      break
  trainer.optimizer.finalize_variable_values(trainer.trainable_weights)
  callbacks.on_train_end(logs)
  clear = getattr(trainer, "_clear_jax_state_sharding", None)
  if clear is not None:
    clear()
  return trainer.history
