"""Mid-run resume: a resumed run equals an uninterrupted one, bit for bit, on this CPU."""

import dataclasses
import os
from unittest import mock

import keras
import pytest
import tensorflow as tf
from helpers import MNIST_DIR, coded_arrays

from tfmixup import checkpoints, datasets, training
from tfmixup.config import TrainConfig

# 256 images, 3 epochs of 4 steps.
SMALL = TrainConfig(method="mixup", data_dir=MNIST_DIR, epochs=3, train_size=256, test_size=128, batch_size=64)


class StopAt(keras.callbacks.Callback):
  """Asks for a stop (as SIGTERM would) at a step of an epoch."""

  def __init__(self, epoch, step):
    super().__init__()
    self.at = (epoch, step)
    self.epoch = None

  def on_epoch_begin(self, epoch, logs=None):
    self.epoch = epoch

  def on_train_batch_begin(self, batch, logs=None):
    if (self.epoch, batch) == self.at:
      checkpoints.request_stop(15)


def fields(result):
  return {k: v for k, v in result.items() if k != "wall_time_s"}


@pytest.mark.real_data
class ResumeTest(tf.test.TestCase):
  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data = training.load_data(SMALL)

  def train_stopping_at(self, output_dir, epoch, step, config=SMALL):
    """Trains `config` until a stop request at (epoch, step); returns the Interrupted error."""
    stopper = StopAt(epoch, step)
    fit = keras.Model.fit

    def fit_with_stopper(model, *args, callbacks=(), **kwargs):
      return fit(model, *args, callbacks=[*callbacks, stopper], **kwargs)

    with checkpoints.stop_on_signals(), mock.patch.object(keras.Model, "fit", fit_with_stopper):
      with self.assertRaises(checkpoints.Interrupted) as raised:
        training.train(config, output_dir, data=self.data, verbose=0)
    return raised.exception

  @pytest.mark.slow
  def test_stopped_corrupted_and_resumed_run_equals_uninterrupted(self):
    whole = training.train(SMALL, self.create_tempdir().full_path, data=self.data, verbose=0)
    out = self.create_tempdir().full_path
    # A stop request in the third epoch: the epoch is dropped, epochs 1 and 2 are saved.
    stopped = self.train_stopping_at(out, epoch=2, step=3)
    self.assertEqual(stopped.signum, 15)
    self.assertRegex(str(stopped), r"^stopped by SIGTERM after 2 of 3 epochs \(state saved\);.* from epoch 3$")
    directory = training.checkpoint_dir(out, SMALL)
    self.assertCountEqual(
      os.listdir(directory), ["epoch-0001.json", "epoch-0001.weights.h5", "epoch-0002.json", "epoch-0002.weights.h5"]
    )
    self.assertIsNone(training.read_result(out, SMALL))
    # The newest checkpoint damaged (half its bytes): the run falls back to epoch 1, says so, and
    # still ends exactly as the uninterrupted run.
    path = os.path.join(directory, "epoch-0002.weights.h5")
    with open(path, "r+b") as f:
      f.truncate(os.path.getsize(path) // 2)
    notices = []
    restore = checkpoints.RunCheckpoint.restore

    def restore_logged(checkpoint, model):
      checkpoint.log = notices.append
      return restore(checkpoint, model)

    with mock.patch.object(checkpoints.RunCheckpoint, "restore", restore_logged):
      resumed = training.train(SMALL, out, data=self.data, verbose=0)
    self.assertLen(notices, 2, msg=notices)
    self.assertRegex(notices[0], r"epoch-0002\.json is unusable \(.*checksum\); trying epoch 1$")
    self.assertRegex(notices[1], r"resuming from the last good checkpoint, epoch 1$")
    self.assertEqual(fields(resumed), fields(whole))
    self.assertFalse(os.path.exists(directory))  # a finished run keeps no checkpoints

  @pytest.mark.slow
  def test_device_feed_resumes_exactly(self):
    # The device feed's trainer (optimizer included, the resident data left
    # out) is what is checkpointed, and its epoch is synced like the stage's:
    # stopped in epoch 2 and resumed, it ends as the uninterrupted run.
    config = dataclasses.replace(SMALL, feed="device")
    whole = training.train(config, self.create_tempdir().full_path, data=self.data, verbose=0)
    self.assertEqual(whole["feed"], "device")
    out = self.create_tempdir().full_path
    self.train_stopping_at(out, epoch=1, step=2, config=config)
    weights = os.path.join(training.checkpoint_dir(out, config), "epoch-0001.weights.h5")
    self.assertLess(os.path.getsize(weights), 2_000_000)  # the model and Adam's state, not 256 images... nor 60k
    resumed = training.train(config, out, data=self.data, verbose=0)
    self.assertEqual(fields(resumed), fields(whole))

  # The checkpoint is saved from a model that never trained (its optimizer unbuilt: 2 variables);
  # restoring it builds Adam's 18, and Keras warns that it skips the optimizer's state. Expected here.
  @pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer:UserWarning")
  def test_checkpoint_of_another_config_is_not_restored(self):
    directory = os.path.join(self.create_tempdir().full_path, "run")
    model = training.compile_model(SMALL, (28, 28, 1), 10)
    other = dataclasses.replace(SMALL, learning_rate=0.5)
    checkpoints.RunCheckpoint(directory, other.to_dict()).save(model, 1, {"loss": [1.0], "test_accuracy": [0.5]})
    notices = []
    restored = checkpoints.RunCheckpoint(directory, SMALL.to_dict(), log=notices.append).restore(model)
    self.assertIsNone(restored)
    self.assertLen(notices, 1)
    self.assertRegex(notices[0], r"unusable \(it was saved for another config\); starting the run from epoch 1$")
    self.assertEqual(checkpoints.RunCheckpoint(directory, other.to_dict()).restore(model).epoch, 1)


class EpochSyncTest(tf.test.TestCase):
  """The stage's epoch is Keras's epoch, even when Keras looks at the data before training."""

  def weights_after(self, fits, strategy=None):
    with strategy.scope() if strategy else contextlib_null():
      keras.utils.set_random_seed(1)
      model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
      model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    for stage, kwargs in fits:
      model.fit(stage, shuffle=False, verbose=0, **kwargs)
    return [w.numpy() for w in model.weights]

  @pytest.mark.slow
  def test_epochs_match_under_a_strategy_that_peeks(self):
    data = coded_arrays(40, num_classes=3)
    data = dataclasses.replace(data, images=data.images / 40.0)

    def stage(epoch=0):
      return datasets.mixup(data, batch_size=8, seed=2, initial_epoch=epoch)

    def synced(start, epochs):
      s = stage(start)
      return s, dict(
        epochs=epochs, initial_epoch=start, callbacks=[checkpoints.EpochSync(datasets.epoch_counter(s), start)]
      )

    # Reference: without a strategy, one fresh stage per epoch, started at that epoch.
    want = self.weights_after([(stage(e), dict(epochs=e + 1, initial_epoch=e)) for e in range(3)])
    # Under a distribution strategy Keras iterates the data once before training (to build
    # the model): without the sync every epoch would get the next epoch's batches.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    for fits in ([synced(0, 3)], [synced(0, 1), synced(1, 3)]):  # whole, and resumed at epoch 1
      got = self.weights_after(fits, strategy)
      for g, w in zip(got, want, strict=True):
        self.assertAllEqual(g, w)

  def test_counter_of_stages(self):
    data = coded_arrays(10)
    self.assertIsNotNone(datasets.epoch_counter(datasets.mixup(data, batch_size=4, seed=0)))
    self.assertIsNotNone(datasets.epoch_counter(datasets.batches(data, batch_size=4, seed=0)))
    self.assertIsNone(datasets.epoch_counter(datasets.batches(data, batch_size=4)))  # evaluation: no epochs


class contextlib_null:  # noqa: N801
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


if __name__ == "__main__":
  tf.test.main()
