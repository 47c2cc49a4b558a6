"""Training on many workers: tf.distribute on TensorFlow, keras.distribution on JAX.

* TensorFlow backend: with `TF_CONFIG` naming two or more workers,
  `tf.distribute.MultiWorkerMirroredStrategy`, one replica per worker. Each
  worker's stage yields its share of every batch (`datasets/shards.py`), so
  the workers together see each example once per epoch and, step for step,
  the batches one worker would. Keras 3's `fit` cannot run this strategy
  (its step results are reduced with `axis=0`, which fails for scalars;
  tensorflow/tensorflow#72388), so `fit` here is a short loop of
  `strategy.run` steps: the compiled loss (scaled per replica by Keras), the
  optimizer (which sums the gradients across workers), and Keras callbacks.
  Worker 0 is the chief: only it writes results, checkpoints and logs.
* JAX backend: with two or more visible devices, `keras.distribution.
  DataParallel` over them; Keras splits each global batch across the
  devices (and, with several processes, across processes: set
  `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES`,
  `KERAS_DISTRIBUTION_PROCESS_ID`), so the stage yields whole batches.
* Otherwise: one worker, `model.fit` as usual.
"""

import dataclasses
import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf


class ClusterError(ValueError):
  """TF_CONFIG (or the cluster it describes) is unusable; the message says why."""


@dataclasses.dataclass(frozen=True)
class Cluster:
  """The workers of a TF_CONFIG: `workers` addresses, and this task's index among them."""

  workers: tuple[str, ...]
  index: int


def parse_tf_config(text: str) -> Cluster:
  """Reads a TF_CONFIG value (only "worker" tasks, the first one the chief).

  Raises:
    ClusterError: not JSON, or not `{"cluster": {"worker": ["host:port", ...]},
      "task": {"type": "worker", "index": i}}` with i in range.
  """
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise ClusterError(f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos})") from None
  if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
    raise ClusterError('TF_CONFIG must be an object with "cluster" and "task", see docs/guides/runs.md')
  cluster, task = config["cluster"], config.get("task")
  extra = sorted(set(cluster) - {"worker"})
  if extra:
    raise ClusterError(f'TF_CONFIG: only "worker" tasks are supported (the first is the chief), got {extra}')
  workers = cluster.get("worker")
  if not isinstance(workers, list) or not workers or not all(isinstance(w, str) and ":" in w for w in workers):
    raise ClusterError('TF_CONFIG: cluster.worker must be a non-empty list of "host:port" strings')
  if not isinstance(task, dict) or task.get("type") != "worker":
    raise ClusterError('TF_CONFIG: task must be {"type": "worker", "index": i}')
  index = task.get("index")
  if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(workers):
    raise ClusterError(f"TF_CONFIG: task.index must be an integer in [0, {len(workers)}), got {index!r}")
  return Cluster(workers=tuple(workers), index=index)


@dataclasses.dataclass(frozen=True)
class Workers:
  """How this process trains: alone, or as one of several workers.

  Attributes:
    num_workers: workers (TF) or data-parallel devices (JAX); 1 alone.
    worker_index: this worker's index (0 on JAX, where one process feeds all
      its devices).
    strategy: the tf.distribute strategy (multi-worker TF), else None.
    distribution: the keras.distribution (JAX data parallel), else None.
  """

  num_workers: int = 1
  worker_index: int = 0
  strategy: tf.distribute.Strategy | None = None
  distribution: object | None = None

  @property
  def is_chief(self) -> bool:
    """Whether this process writes results (worker 0 or alone)."""
    return self.worker_index == 0

  def stage_options(self) -> dict:
    """The stage options giving this worker its share (`datasets/shards.py`); {} when Keras splits."""
    if self.strategy is None:
      return {}
    return dict(num_workers=self.num_workers, worker_index=self.worker_index)

  def scope(self):
    """The context to build and compile the model in."""
    return self.strategy.scope() if self.strategy is not None else _nothing()


class _nothing:
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


_WORKERS: dict[str, Workers] = {}


def from_environment() -> Workers:
  """This process's `Workers`, from the backend, TF_CONFIG and the visible devices (once per process).

  Raises:
    ClusterError: a malformed TF_CONFIG.
  """
  if "workers" in _WORKERS:
    return _WORKERS["workers"]
  backend = keras.backend.backend()
  workers = Workers()
  if backend == "tensorflow" and os.environ.get("TF_CONFIG"):
    cluster = parse_tf_config(os.environ["TF_CONFIG"])
    if len(cluster.workers) > 1:
      strategy = tf.distribute.MultiWorkerMirroredStrategy()
      if strategy.num_replicas_in_sync != len(cluster.workers):
        raise ClusterError(
          f"{strategy.num_replicas_in_sync} replicas for {len(cluster.workers)} workers:"
          " tfmixup trains one replica per worker (one device each; set CUDA_VISIBLE_DEVICES)"
        )
      workers = Workers(num_workers=len(cluster.workers), worker_index=cluster.index, strategy=strategy)
  elif backend == "jax":
    if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES"):
      keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    if len(devices) > 1:
      distribution = keras.distribution.DataParallel(devices=devices)
      keras.distribution.set_distribution(distribution)
      import jax  # noqa: PLC0415 - JAX backend only

      workers = Workers(num_workers=len(devices), worker_index=jax.process_index(), distribution=distribution)
  _WORKERS["workers"] = workers
  return workers


def fit_multi_worker(  # noqa: PLR0914 - one training loop, read top to bottom
  workers: Workers,
  model: keras.Model,
  stage: tf.data.Dataset,
  *,
  epochs: int,
  initial_epoch: int,
  test: tuple[tf.data.Dataset, np.ndarray],
  callbacks: list,
  verbose: int,
) -> None:
  """`model.fit` for multi-worker TensorFlow (see the module docstring).

  Args:
    workers: from `from_environment`, with a strategy.
    model: compiled in `workers.scope()`.
    stage: this worker's share of the training batches (of known length): `(x, y)` or `(x, y, sample_weight)`.
    epochs, initial_epoch: as `model.fit`.
    test: (clean test batches, their class ids); the accuracy on them is
      `logs["val_accuracy"]` after every epoch.
    callbacks: Keras callbacks (`on_epoch_end` gets "loss" and "val_accuracy").
    verbose: print a line per epoch (chief only).
  """
  strategy = workers.strategy
  steps = int(stage.cardinality())
  if steps < 1:
    raise ClusterError("multi-worker training needs a stage of known length (in-memory data)")
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  distributed = strategy.distribute_datasets_from_function(lambda _: stage.with_options(options))
  with strategy.scope():
    model.optimizer.build(model.trainable_variables)
  loss_fn = model.loss

  def replica_step(x, y, sample_weight=None):
    with tf.GradientTape() as tape:
      logits = model(x, training=True)
      loss = loss_fn(
        y, logits, sample_weight=sample_weight
      )  # the local mean, scaled by 1 / replicas (Keras does it under a strategy)
    model.optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    n = tf.cast(tf.shape(x)[0], tf.float32)
    return loss * strategy.num_replicas_in_sync * n, n

  @tf.function
  def train_step(iterator):
    total, count = strategy.run(replica_step, args=next(iterator))
    return strategy.reduce("SUM", total, axis=None), strategy.reduce("SUM", count, axis=None)

  callback_list = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps, verbose=0)
  model.stop_training = False
  callback_list.on_train_begin()
  for epoch in range(initial_epoch, epochs):
    callback_list.on_epoch_begin(epoch)
    iterator = iter(distributed)
    loss_sum = count = 0.0
    for step in range(steps):
      callback_list.on_train_batch_begin(step)
      step_loss, step_count = train_step(iterator)
      loss_sum, count = loss_sum + float(step_loss), count + float(step_count)
      callback_list.on_train_batch_end(step, {"loss": loss_sum / count})
      if model.stop_training:
        break
    logs = {"loss": loss_sum / max(count, 1.0)}
    if not model.stop_training:
      logs["val_accuracy"] = float(np.mean(np.argmax(logits(model, test[0]), axis=1) == test[1]))
    if verbose and workers.is_chief:
      print(f"Epoch {epoch + 1}/{epochs} - loss: {logs['loss']:.4f}", file=sys.stdout, flush=True)
    callback_list.on_epoch_end(epoch, logs)
    if model.stop_training:
      break
  callback_list.on_train_end()


def logits(model: keras.Model, batches: tf.data.Dataset) -> np.ndarray:
  """The model's outputs on every batch, in order, without `model.predict` (which a strategy may not support)."""
  call = tf.function(lambda x: model(x, training=False))
  return np.concatenate([call(x).numpy() for x, _ in batches])


def accuracy(model: keras.Model, data) -> float:
  """Fraction of `data` (`ImageArrays`) the model classifies correctly, without `model.predict`."""
  from tfmixup import datasets  # noqa: PLC0415

  outputs = logits(model, datasets.batches(data, batch_size=1024))
  return float(np.mean(np.argmax(outputs, axis=1) == data.labels))


def agree_on_epoch(workers: Workers, epoch: int) -> int:
  """The epoch every worker resumes at; raises ClusterError if their checkpoints disagree.

  Workers restore the chief's checkpoints, so the output directory must be
  shared by all of them (NFS, a cluster file system).
  """
  if workers.strategy is None:
    return epoch
  strategy = workers.strategy
  value = tf.constant([epoch, epoch * epoch, 1], tf.float64)
  total, squares, count = strategy.reduce("SUM", strategy.run(lambda: tf.identity(value)), axis=None).numpy()
  if squares * count != total * total:
    raise ClusterError(
      f"the workers would resume from different epochs (this one: {epoch}):"
      " every worker must see the chief's output directory (shared storage)"
    )
  return epoch
