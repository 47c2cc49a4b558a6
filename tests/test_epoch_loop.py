"""The epoch loop (`tfmixup.epoch_loop`, `--loop=epoch`): Keras's `fit`, one compiled call per epoch, under JAX.

The loop runs only under JAX. Under another backend this file checks the
one-line refusals, and runs its own JAX tests in a subprocess
(`KERAS_BACKEND=jax`, the same tier), so the README's test command covers
them; under JAX they run in the process.

Tolerance against `fit`: the loop runs the trainer's own `train_step` on
the same batches, but inside a `lax.scan`, where XLA may fuse and order
float32 operations otherwise than in `fit`'s one-step function. The
differences are rounding: measured on this CPU, losses agree to 1 ulp
(relative 1e-7) and weights to 1e-5 after 48 Adam steps (Adam's normalized
update turns a rounding difference in a near-zero gradient into up to a
learning rate's step). So losses are compared at rtol 1e-5 and weights at
atol 1e-4; one batch trained twice, skipped, or drawn from another epoch
moves them by 1e-2 or more.
"""

import dataclasses
import os
import subprocess
import sys
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR

from tfmixup import checkpoints, datasets, epoch_loop, training
from tfmixup.config import TrainConfig
from tfmixup.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAX = keras.backend.backend() == "jax"
LOSS_RTOL, WEIGHT_ATOL = 1e-5, 1e-4
on_jax = pytest.mark.skipif(not JAX, reason="runs under KERAS_BACKEND=jax (the subprocess tests below run it)")


def uint8_data(size=200, num_classes=3, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (size, 6, 6, 1), dtype=np.uint8), rng.integers(0, num_classes, size)


def compiled(trainer):
  trainer.compile(
    optimizer=keras.optimizers.Adam(1e-2),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    jit_compile=True,
  )
  return trainer


def tiny_model(num_classes=3):
  return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(num_classes)])


FEEDS = {
  "erm": lambda data: datasets.device_batches(data, batch_size=32, seed=3, num_classes=3),
  "mixup": lambda data: datasets.device_mixup(data, batch_size=32, seed=3, alpha=0.5, num_classes=3),
  "pair_sampling": lambda data: datasets.device_pair_sampling(data, batch_size=32, seed=3, num_classes=3),
}


def train_tiny(feed_name, loop, *, epochs=3, callbacks=(), size=200, initial_epoch=0, weights=None, whole=True):
  """Trains a tiny model on a device feed of `size` examples (batches of 32) with `fit` or the loop."""
  keras.utils.set_random_seed(0)
  feed = FEEDS[feed_name](uint8_data(size))
  model = tiny_model()
  if weights is not None:
    model.set_weights(weights)
  trainer = compiled(feed.model(model))
  sync = checkpoints.EpochSync(datasets.epoch_counter(feed.dataset), initial_epoch)
  args = dict(epochs=epochs, initial_epoch=initial_epoch, callbacks=[sync, *callbacks], verbose=0)
  if loop == "fit":
    history = trainer.fit(feed.dataset, shuffle=False, **args)
  else:
    history = epoch_loop.fit(trainer, feed if whole else feed.dataset, **args)
  return history, model, trainer


class Recorder(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.calls = []

  def on_train_begin(self, logs=None):
    self.calls.append(("train_begin",))

  def on_epoch_begin(self, epoch, logs=None):
    self.calls.append(("epoch_begin", epoch))

  def on_train_batch_begin(self, batch, logs=None):
    self.calls.append(("batch_begin", batch))

  def on_train_batch_end(self, batch, logs=None):
    self.calls.append(("batch_end", batch, sorted(logs)))

  def on_epoch_end(self, epoch, logs=None):
    self.calls.append(("epoch_end", epoch, sorted(logs)))

  def on_train_end(self, logs=None):
    self.calls.append(("train_end",))


@on_jax
class EpochLoopTest(tf.test.TestCase, parameterized.TestCase):
  """The loop on a tiny model: `fit`'s results, callbacks, validation and refusals."""

  def check_matches_fit(self, feed_name, size, whole=True):
    fit_history, fit_model, fit_trainer = train_tiny(feed_name, "fit", size=size)
    loop_history, loop_model, loop_trainer = train_tiny(feed_name, "epoch", size=size, whole=whole)
    self.assertEqual(sorted(loop_history.history), ["accuracy", "loss"])
    self.assertAllClose(loop_history.history["loss"], fit_history.history["loss"], rtol=LOSS_RTOL, atol=0)
    self.assertAllClose(loop_history.history["accuracy"], fit_history.history["accuracy"], rtol=LOSS_RTOL, atol=0)
    for got, want in zip(loop_model.get_weights(), fit_model.get_weights(), strict=True):
      self.assertAllClose(got, want, rtol=0, atol=WEIGHT_ATOL)
    # Every batch trained once, 3 epochs (the full batches in the scan, a smaller last one on its own).
    self.assertEqual(int(loop_trainer.optimizer.iterations), 3 * -(-size // 32))
    self.assertEqual(int(loop_trainer.optimizer.iterations), int(fit_trainer.optimizer.iterations))

  def test_matches_fit_on_the_same_batches(self):
    self.check_matches_fit("mixup", size=200)  # 6 batches of 32 in the scan, then 8 on their own
    self.check_matches_fit("erm", size=192)  # the scan alone: its last step's logs are the epoch's

  @pytest.mark.slow
  def test_matches_fit_on_the_same_batches_more(self):
    for feed_name, size, whole in (("pair_sampling", 200, True), ("mixup", 192, False), ("erm", 200, False)):
      with self.subTest(feed_name=feed_name, size=size, whole=whole):  # whole=False: the batches stacked on the host
        self.check_matches_fit(feed_name, size, whole)

  @pytest.mark.slow
  def test_steps_per_epoch(self):
    keras.utils.set_random_seed(0)
    feed = FEEDS["mixup"](uint8_data())
    fit_model, loop_model = tiny_model(), tiny_model()
    loop_model.set_weights(fit_model.get_weights())
    fit_trainer, loop_trainer = compiled(feed.model(fit_model)), compiled(feed.model(loop_model))
    sync = checkpoints.EpochSync(datasets.epoch_counter(feed.dataset), 0)
    fit_history = fit_trainer.fit(feed.dataset.take(3), epochs=2, callbacks=[sync], verbose=0)
    loop_history = epoch_loop.fit(loop_trainer, feed, epochs=2, steps_per_epoch=3, callbacks=[sync], verbose=0)
    self.assertAllClose(loop_history.history["loss"], fit_history.history["loss"], rtol=LOSS_RTOL, atol=0)
    self.assertEqual(int(loop_trainer.optimizer.iterations), 6)

  @pytest.mark.slow
  def test_fit_again_reuses_the_compiled_epoch(self):
    feed = FEEDS["mixup"](uint8_data())
    trainer = compiled(feed.model(tiny_model()))
    epoch_loop.fit(trainer, feed.dataset, epochs=1, verbose=0)
    compiled_steps = trainer.__dict__["_tfmixup_epoch_steps"][1]
    epoch_loop.fit(trainer, feed.dataset, epochs=2, initial_epoch=1, verbose=0)
    self.assertIs(trainer.__dict__["_tfmixup_epoch_steps"][1], compiled_steps)
    self.assertEqual(compiled_steps.epoch._cache_size(), 1)  # one trace: the second call compiled nothing
    self.assertEqual(int(trainer.optimizer.iterations), 14)
    compiled(trainer)  # compiled again: a new optimizer, new steps
    epoch_loop.fit(trainer, feed.dataset, epochs=1, verbose=0)
    self.assertIsNot(trainer.__dict__["_tfmixup_epoch_steps"][1], compiled_steps)

  def test_callbacks_at_epoch_granularity(self):
    recorder = Recorder()
    history, _, trainer = train_tiny("mixup", "epoch", epochs=2, callbacks=[recorder])
    keys = ["accuracy", "loss"]
    self.assertEqual(
      recorder.calls,
      [
        ("train_begin",),
        *[("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 6, keys), ("epoch_end", 0, keys)],
        *[("epoch_begin", 1), ("batch_begin", 0), ("batch_end", 6, keys), ("epoch_end", 1, keys)],
        ("train_end",),
      ],
    )
    self.assertIs(history, trainer.history)
    self.assertEqual(history.epoch, [0, 1])
    self.assertEqual(history.params["steps"], 7)

  @pytest.mark.slow
  def test_stop_training_and_initial_epoch(self):
    class StopAfterFirst(keras.callbacks.Callback):
      def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True

    history, _, trainer = train_tiny("mixup", "epoch", epochs=5, callbacks=[StopAfterFirst()])
    self.assertEqual(history.epoch, [0])
    self.assertEqual(int(trainer.optimizer.iterations), 7)
    early = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)  # never improves enough
    history, _, _ = train_tiny("mixup", "epoch", epochs=5, callbacks=[early])
    self.assertEqual(history.epoch, [0, 1])
    # Resuming: epochs 2 and 3 of a run, from the weights after epochs 0 and 1, as fit resumes.
    _, first, _ = train_tiny("mixup", "epoch", epochs=2)
    resumed, _, _ = train_tiny("mixup", "epoch", epochs=4, initial_epoch=2, weights=first.get_weights())
    self.assertEqual(resumed.epoch, [2, 3])
    fit_resumed, _, _ = train_tiny("mixup", "fit", epochs=4, initial_epoch=2, weights=first.get_weights())
    self.assertAllClose(resumed.history["loss"], fit_resumed.history["loss"], rtol=LOSS_RTOL, atol=0)

  @pytest.mark.slow
  def test_validation_on_the_images_model(self):
    images, labels = uint8_data(64, seed=1)
    x, y = images.astype("float32") / 255.0, keras.utils.to_categorical(labels, 3)
    keras.utils.set_random_seed(0)
    feed = FEEDS["mixup"](uint8_data())
    model = tiny_model()
    trainer = compiled(feed.model(model))
    validator = compiled(model)
    history = epoch_loop.fit(
      trainer, feed.dataset, epochs=2, verbose=0, validation_data=(x, y), validation_model=validator
    )
    self.assertEqual(sorted(history.history), ["accuracy", "loss", "val_accuracy", "val_loss"])
    expected = validator.evaluate(x, y, verbose=0, return_dict=True)
    self.assertAllClose(history.history["val_loss"][-1], expected["loss"], rtol=1e-6)
    self.assertAllClose(history.history["val_accuracy"][-1], expected["accuracy"], rtol=1e-6)

  def test_refusals(self):
    feed = FEEDS["mixup"](uint8_data())
    with self.assertRaisesRegex(ConfigError, r"^the epoch loop needs a compiled model"):
      epoch_loop.fit(feed.model(tiny_model()), feed.dataset)
    uneven = tf.data.Dataset.range(3).map(lambda i: (tf.zeros([4 + i, 2]), tf.zeros([4 + i, 3])))
    dense = compiled(keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]))
    with self.assertRaisesRegex(ValueError, r"^the epoch loop needs batches of one shape"):
      epoch_loop.fit(dense, uneven, verbose=0)
    with self.assertRaisesRegex(ValueError, r"^the epoch loop got an empty dataset$"):
      epoch_loop.fit(dense, uneven.take(0), verbose=0)


class WholeEpochsTest(tf.test.TestCase, parameterized.TestCase):
  """A device feed's `whole_epoch(e)` (an epoch at once) holds exactly its `dataset`'s batches of epoch e."""

  @parameterized.named_parameters(
    ("mixup_cutmix", datasets.device_mixup_cutmix, dict(switch_prob=0.5, prob=0.7, label_smoothing=0.1)),
    ("no_mixing_drop_remainder", datasets.device_batches, dict(drop_remainder=True)),
  )
  def test_epochs_hold_the_batches(self, make, options):
    self.check_epochs(make, options)

  @pytest.mark.slow
  def test_epochs_hold_the_batches_more(self):
    for make, options in (
      (datasets.device_mixup, dict(alpha=0.4, prob=0.7, label_smoothing=0.1)),
      (datasets.device_mixup, dict(schedule=datasets.Schedule(start=1, on=1, off=1))),
      (datasets.device_mixup, dict(exclude_pairs=[(0, 1)], initial_epoch=4)),
      (datasets.device_pair_sampling, dict(prob=0.5)),
      (datasets.device_cutmix, dict(alpha=1.0, prob=0.8, drop_remainder=True)),
    ):
      with self.subTest(make=make.__name__, options=options):
        self.check_epochs(make, options)

  def check_epochs(self, make, options):
    feed = make(uint8_data(200), batch_size=32, seed=5, num_classes=3, **options)
    first = options.get("initial_epoch", 0)
    for epoch in (first, first + 1, first + 2):  # epoch after epoch, new draws
      batches = list(feed.dataset.as_numpy_iterator())
      full_inputs, full_labels, rest_inputs, rest_labels = feed.whole_epoch(epoch)
      full = len(full_labels)
      self.assertEqual(full, 6)
      self.assertEqual(len(rest_labels), 0 if options.get("drop_remainder") else 8)
      self.assertLen(batches, full + (len(rest_labels) > 0))
      for step, (inputs, labels) in enumerate(batches):
        whole_inputs = keras.tree.map_structure(lambda v, s=step: v[s], full_inputs) if step < full else rest_inputs
        whole_labels = full_labels[step] if step < full else rest_labels
        self.assertEqual(sorted(whole_inputs), sorted(inputs))
        for name in inputs:
          self.assertAllEqual(whole_inputs[name], inputs[name], msg=f"{name}, epoch {epoch}, step {step}")
        self.assertAllEqual(whole_labels, labels, msg=f"labels, epoch {epoch}, step {step}")
    self.assertEqual(datasets.epoch_counter(feed.dataset).next_epoch, first + 3)  # whole_epoch counts nothing


SMALL = TrainConfig(
  method="mixup",
  classes=(6, 8, 9),
  data_dir=MNIST_DIR,
  epochs=2,
  train_size=320,
  test_size=256,
  batch_size=64,
  feed="device",
)


def fields(result):
  return {k: v for k, v in result.items() if k not in {"wall_time_s", "loop", "config"}}


@on_jax
@pytest.mark.real_data
@pytest.mark.slow
class TrainLoopTest(tf.test.TestCase, parameterized.TestCase):
  """`training.train` with `loop="epoch"`: the three-conv model, real MNIST, the run JSON."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data = training.load_data(SMALL)

  def test_run_json_matches_fit(self):
    # Mixup here (the tiny-model tests cover ERM and pair sampling): each run costs minutes under XLA:CPU's scan.
    config = SMALL
    fit = training.train(dataclasses.replace(config, loop="fit"), data=self.data, verbose=0)
    loop = training.train(dataclasses.replace(config, loop="epoch"), data=self.data, verbose=0)
    self.assertEqual((fit["loop"], loop["loop"], loop["feed"]), ("fit", "epoch", "device"))
    self.assertAllClose(loop["history"]["loss"], fit["history"]["loss"], rtol=LOSS_RTOL, atol=0)
    # Accuracies on 256 test and 320 training images: at most one image may flip at the tolerance.
    self.assertAllClose(loop["history"]["test_accuracy"], fit["history"]["test_accuracy"], atol=1.5 / 256, rtol=0)
    self.assertAllClose(loop["train_accuracy"], fit["train_accuracy"], atol=1.5 / 320, rtol=0)
    self.assertEqual(loop["optimizer_steps"], fit["optimizer_steps"])
    self.assertEqual(loop["optimizer_steps"], 10)

  def test_resumed_run_equals_uninterrupted(self):
    config = dataclasses.replace(SMALL, loop="epoch", epochs=3)
    whole = training.train(config, self.create_tempdir().full_path, data=self.data, verbose=0)
    out = self.create_tempdir().full_path

    class StopInSecondEpoch(keras.callbacks.Callback):
      def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
          checkpoints.request_stop(15)

    run = epoch_loop.fit

    def fit_with_stopper(trainer, dataset, *, callbacks=(), **kwargs):
      return run(trainer, dataset, callbacks=[*callbacks, StopInSecondEpoch()], **kwargs)

    with checkpoints.stop_on_signals(), mock.patch.object(epoch_loop, "fit", fit_with_stopper):
      with self.assertRaises(checkpoints.Interrupted) as raised:
        training.train(config, out, data=self.data, verbose=0)
    self.assertRegex(str(raised.exception), r"^stopped by SIGTERM after 1 of 3 epochs")
    self.assertIsNone(training.read_result(out, config))
    resumed = training.train(config, out, data=self.data, verbose=0)
    # All but the wall time and the versions (the git commit reads "-dirty" if a file changes meanwhile).
    same = lambda result: {k: v for k, v in result.items() if k not in {"wall_time_s", "versions"}}  # noqa: E731
    self.assertEqual(same(resumed), same(whole))


class RefusalsTest(tf.test.TestCase):
  """One line for a loop that cannot run, before any data loads (any backend); and the host's stacking."""

  def test_stack_epoch(self):
    batches = [(np.full([2, 3], i), np.full([2], i)) for i in range(3)] + [(np.zeros([1, 3]), np.zeros([1]))]
    stacked, last, steps = epoch_loop.stack_epoch(batches)
    self.assertEqual(steps, 4)
    self.assertAllEqual(stacked[0][:, 0, 0], [0, 1, 2])
    self.assertEqual(stacked[1].shape, (3, 2))
    self.assertEqual(last[0].shape, (1, 3))
    self.assertEqual(epoch_loop.stack_epoch([]), (None, None, 0))

  def test_config_refusals(self):
    with self.assertRaisesRegex(ConfigError, r"^loop must be one of \('auto', 'fit', 'epoch'\), got 'scan'$"):
      TrainConfig(loop="scan")
    with self.assertRaisesRegex(ConfigError, r"^loop 'epoch' trains on a device feed, and method 'resizemix' has none"):
      TrainConfig(method="resizemix", loop="epoch")
    with self.assertRaisesRegex(ConfigError, r"^loop 'epoch' trains on the device feed: use feed 'device' or 'auto'"):
      TrainConfig(method="mixup", loop="epoch", feed="host")

  def test_resolution(self):
    from tfmixup import backend  # noqa: PLC0415

    gpu = {name: backend.BackendInfo(name, ("gpu:0",), True) for name in ("jax", "tensorflow")}
    cpu = backend.BackendInfo("jax", ("cpu:0",), False)
    mixup = TrainConfig(method="mixup")
    self.assertEqual(training.resolve_loop(mixup, gpu["jax"]), "epoch")
    self.assertEqual(training.resolve_feed(mixup, gpu["jax"]), "device")
    self.assertEqual(training.resolve_loop(mixup, cpu), "fit")
    self.assertEqual(training.resolve_loop(mixup, gpu["tensorflow"]), "fit")
    self.assertEqual(training.resolve_loop(mixup, gpu["jax"], num_workers=2), "fit")
    self.assertEqual(training.resolve_loop(dataclasses.replace(mixup, feed="host"), gpu["jax"]), "fit")
    self.assertEqual(training.resolve_loop(TrainConfig(method="resizemix"), gpu["jax"]), "fit")
    self.assertEqual(training.resolve_loop(dataclasses.replace(mixup, loop="fit"), gpu["jax"]), "fit")
    epoch = dataclasses.replace(mixup, loop="epoch")
    self.assertEqual(training.resolve_loop(epoch, cpu), "epoch")
    self.assertEqual(training.resolve_feed(epoch, cpu), "device")  # feed "auto" follows the loop
    with self.assertRaisesRegex(ConfigError, r"^loop 'epoch' needs KERAS_BACKEND=jax, not 'tensorflow'"):
      training.resolve_loop(epoch, gpu["tensorflow"])
    with self.assertRaisesRegex(Exception, r"^loop 'epoch' trains on one device"):
      training.resolve_loop(epoch, cpu, num_workers=2)

  @pytest.mark.skipif(JAX, reason="the refusal of another backend")
  def test_fit_refuses_another_backend(self):
    with self.assertRaisesRegex(ConfigError, r"^the epoch loop needs KERAS_BACKEND=jax, not 'tensorflow'"):
      epoch_loop.fit(keras.Sequential(), tf.data.Dataset.range(1))

  @pytest.mark.skipif(JAX, reason="the JAX tests run in this process")
  def test_jax_tests_pass(self):
    """This file's JAX tests of the fast tier, in a subprocess under KERAS_BACKEND=jax."""
    self._run_under_jax("not slow")

  @pytest.mark.slow
  @pytest.mark.skipif(JAX, reason="the JAX tests run in this process")
  def test_slow_jax_tests_pass(self):
    """This file's slow JAX tests (the three-conv model, the run JSON, resume), under KERAS_BACKEND=jax."""
    self._run_under_jax("slow")

  def _run_under_jax(self, marks):
    env = dict(os.environ, KERAS_BACKEND="jax")
    # -P: tfmixup from PYTHONPATH or the installed package, not this directory (a mutant copy, an installed wheel).
    command = [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marks, __file__]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=ROOT, env=env, check=False)
    self.assertEqual(proc.returncode, 0, msg=proc.stdout[-4000:] + proc.stderr[-2000:])
    self.assertRegex(proc.stdout, r"\d+ passed")
    self.assertNotRegex(proc.stdout, r"\d+ (failed|error)")
