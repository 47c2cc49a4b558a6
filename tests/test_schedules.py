"""Schedules: mixing on in exactly the epochs named, in model.fit, and the same stream when resumed."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import coded_arrays

from tfmixup import datasets
from tfmixup.datasets import DataError, Schedule


def iterate(ds):
  batches = [(x.numpy(), y.numpy()) for x, y in ds]
  return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


class ScheduleTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("always", Schedule(), 6, [0, 1, 2, 3, 4, 5]),
    ("start", Schedule(start=2), 5, [2, 3, 4]),
    ("off_last", Schedule.off_last(2, 6), 6, [0, 1, 2, 3]),
    ("off_last_zero", Schedule.off_last(0, 3), 3, [0, 1, 2]),
    ("off_last_all", Schedule.off_last(4, 4), 4, []),
    ("cycles", Schedule(on=2, off=1), 8, [0, 1, 3, 4, 6, 7]),
    # SamplePairing's shape: off at first, 3 on / 1 off, off for the last 2.
    ("sample_pairing", Schedule(start=2, on=3, off=1, stop=10), 12, [2, 3, 4, 6, 7, 8]),
  )
  def test_epochs_on(self, schedule, epochs, want):
    self.assertEqual(schedule.epochs_on(epochs), want)
    on = [bool(schedule.active_tensor(tf.constant(e, tf.int64))) for e in range(epochs + 20)]
    self.assertEqual(on, [schedule.active(e) for e in range(epochs + 20)])

  @parameterized.named_parameters(
    ("start", dict(start=-1), "start must be an integer >= 0"),
    ("stop", dict(stop=-3), "stop must be an integer >= 0"),
    ("on_zero", dict(on=0), "on must be an integer >= 1"),
    ("off_negative", dict(on=2, off=-1), "off must be an integer >= 0"),
    ("off_without_on", dict(off=2), "off=2 needs on"),
    ("float", dict(start=1.5), "start must be an integer"),
  )
  def test_bad_schedule(self, kwargs, message):
    with self.assertRaisesRegex(DataError, message):
      Schedule(**kwargs)

  def test_bad_off_last(self):
    with self.assertRaisesRegex(DataError, "cannot turn mixing off for the last 5 of 4 epochs"):
      Schedule.off_last(5, 4)
    with self.assertRaisesRegex(DataError, "epochs must be an integer >= 1"):
      Schedule.off_last(0, 0)

  def test_numpy_integers(self):
    got = Schedule(start=np.int64(1), stop=np.int32(9), on=np.uint8(2), off=np.int64(1))
    self.assertEqual(got, Schedule(start=1, stop=9, on=2, off=1))
    self.assertEqual({type(v) for v in (got.start, got.stop, got.on, got.off)}, {int})
    self.assertEqual(Schedule.off_last(np.int64(1), np.int64(10)), Schedule(stop=9))
    self.assertEqual(Schedule.off_last(1, np.int64(10)).epochs_on(10), list(range(9)))
    for bad in (np.float64(1.0), np.bool_(True), True):
      with self.assertRaisesRegex(DataError, "schedule start must be an integer >= 0"):
        Schedule(start=bad)


STAGES = {
  "mixup": datasets.mixup,
  "cutmix": datasets.cutmix,
  "pair_sampling": datasets.pair_sampling,
}


class StageScheduleTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    *[(f"{name}_{source}", name, source) for name in STAGES for source in ("arrays", "dataset")]
  )
  @pytest.mark.slow
  def test_mixes_in_exactly_the_epochs_named(self, name, source):
    data = coded_arrays(96, num_classes=4, shape=(8, 8, 1))
    inputs = data.to_dataset() if source == "dataset" else data
    schedule = Schedule(start=1, on=2, off=1, stop=6)  # on in 1, 2, 4, 5
    stage = STAGES[name]
    scheduled = stage(inputs, batch_size=32, seed=3, num_classes=4, schedule=schedule)
    always = stage(inputs, batch_size=32, seed=3, num_classes=4)
    plain = datasets.batches(inputs, batch_size=32, seed=3, num_classes=4)
    for e in range(8):
      got, mixed, unmixed = iterate(scheduled), iterate(always), iterate(plain)
      # On: the batches of the stage without a schedule. Off: the first
      # stream, unmixed, which is exactly `batches` with the same seed.
      want = mixed if schedule.active(e) else unmixed
      self.assertAllEqual(got[0], want[0], msg=f"epoch {e}")
      self.assertAllEqual(got[1], want[1], msg=f"epoch {e}")
      self.assertNotAllClose(mixed[0], unmixed[0])

  @parameterized.named_parameters(("arrays", False), ("dataset", True))
  def test_initial_epoch_resumes_the_stream(self, dataset):
    data = coded_arrays(64, num_classes=4, shape=(8, 8, 1))
    inputs = data.to_dataset() if dataset else data
    schedule = Schedule(on=1, off=1)
    full = datasets.mixup(inputs, batch_size=16, seed=5, num_classes=4, schedule=schedule)
    epochs = [iterate(full) for _ in range(5)]
    resumed = datasets.mixup(inputs, batch_size=16, seed=5, num_classes=4, schedule=schedule, initial_epoch=3)
    for e in (3, 4):
      got = iterate(resumed)
      self.assertAllEqual(got[0], epochs[e][0])
      self.assertAllEqual(got[1], epochs[e][1])


class MixedEpochs(keras.callbacks.Callback):
  """Records, per epoch, whether any training label row was mixed (max weight < 1)."""

  def __init__(self, smallest_top_weight: tf.Variable):
    super().__init__()
    self.smallest = smallest_top_weight
    self.mixed = {}

  def on_epoch_begin(self, epoch, logs=None):
    self.smallest.assign(1.0)

  def on_epoch_end(self, epoch, logs=None):
    self.mixed[epoch] = bool(self.smallest.numpy() < 0.999)


class FitTest(tf.test.TestCase):
  def fit(self, stage, epochs, initial_epoch=0):
    smallest = tf.Variable(1.0)

    def record(x, y):
      smallest.assign(tf.minimum(smallest, tf.reduce_min(tf.reduce_max(y, axis=1))))
      return x, y

    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    callback = MixedEpochs(smallest)
    model.fit(
      stage.map(record), epochs=epochs, initial_epoch=initial_epoch, callbacks=[callback], shuffle=False, verbose=0
    )
    return callback.mixed

  def test_schedule_in_fit_and_resumed(self):
    data = coded_arrays(60, num_classes=3, shape=(6, 6, 1))
    schedule = Schedule(start=1, stop=5, on=2, off=1)  # on in 1, 2, 4
    stage = datasets.mixup(data, batch_size=20, seed=0, schedule=schedule)
    self.assertEqual(self.fit(stage, 6), {0: False, 1: True, 2: True, 3: False, 4: True, 5: False})
    resumed = datasets.mixup(data, batch_size=20, seed=0, schedule=schedule, initial_epoch=2)
    self.assertEqual(self.fit(resumed, 6, initial_epoch=2), {2: True, 3: False, 4: True, 5: False})


if __name__ == "__main__":
  tf.test.main()
