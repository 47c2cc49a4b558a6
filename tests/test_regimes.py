"""The study's training regimes: the knobs the science grid turns (issue 11), and the grid's plan.

Knobs: training on part of one epoch (`fraction`), a few examples per class
(`train_per_class`), class-sorted data through a shuffle buffer
(`sorted_buffer`, a pipeline fault), unnormalized inputs (`input_scale`).
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import coded_arrays
from scipy import stats

from tfmixup import training
from tfmixup.config import ConfigError, TrainConfig
from tfmixup.datasets import DataError, draws
from tfmixup.model import build_model
from tfmixup.study import regimes, science

MNIST = "../shared/mnist"


def _seed(i: int) -> tf.Tensor:
  return tf.constant([i, 7 * i + 1], tf.int64)


class BufferedShuffleTest(tf.test.TestCase):
  def test_each_element_leaves_within_the_buffer(self):
    # Element t of the output is one of the first t + buffer arrivals: a
    # full shuffle (or a dropped buffer) breaks this at once.
    order = tf.range(1000, dtype=tf.int64)
    for i in range(5):
      out = draws.buffered_shuffle(order, 50, _seed(i)).numpy()
      self.assertAllEqual(np.sort(out), np.arange(1000))
      self.assertTrue(np.all(out < np.arange(1000) + 50), msg=f"seed {i}")
      self.assertGreater(np.mean(out != np.arange(1000)), 0.9)  # it does shuffle

  @pytest.mark.stats
  def test_first_pick_is_uniform_over_the_buffer(self):
    # χ² over 4,000 draws of the first element out of a 20-slot buffer; a buffer that favours a slot
    # (e.g. always the newest) fails at any seed. The loop is numpy (`_buffer_pass`), fed uniforms.
    rng = np.random.default_rng(0)
    order = np.arange(60)
    firsts = [draws._buffer_pass(order, rng.random(60), np.int64(20))[0] for _ in range(4000)]  # noqa: SLF001
    counts = np.bincount(firsts, minlength=60)
    self.assertEqual(counts[20:].sum(), 0)
    self.assertGreater(stats.chisquare(counts[:20]).pvalue, 1e-3)

  @pytest.mark.stats
  def test_a_buffer_as_large_as_the_data_is_a_full_shuffle(self):
    # Where element 0 ends up: uniform over the 30 positions (χ², 3,000 draws).
    rng = np.random.default_rng(1)
    where = [int(np.argmax(draws._buffer_pass(np.arange(30), rng.random(30), np.int64(30)) == 0)) for _ in range(3000)]  # noqa: SLF001
    self.assertGreater(stats.chisquare(np.bincount(where, minlength=30)).pvalue, 1e-3)

  def test_the_op_runs_the_loop_on_its_stateless_uniforms(self):
    order = tf.range(200, dtype=tf.int64)
    uniform = tf.random.stateless_uniform([200], _seed(3), dtype=tf.float64).numpy()
    want = draws._buffer_pass(np.arange(200), uniform, np.int64(16))  # noqa: SLF001
    self.assertAllEqual(draws.buffered_shuffle(order, 16, _seed(3)), want)
    inside = tf.data.Dataset.from_tensors(order).map(lambda o: draws.buffered_shuffle(o, 16, _seed(3)))
    self.assertAllEqual(next(iter(inside)), want)  # the same inside a tf.data graph

  def test_seeded(self):
    order = tf.range(500, dtype=tf.int64)
    self.assertAllEqual(draws.buffered_shuffle(order, 64, _seed(1)), draws.buffered_shuffle(order, 64, _seed(1)))
    self.assertNotAllEqual(draws.buffered_shuffle(order, 64, _seed(1)), draws.buffered_shuffle(order, 64, _seed(2)))


class SortedBufferStageTest(tf.test.TestCase):
  def _labels(self, stage, epochs):
    it = iter(stage.repeat(epochs))
    return [np.argmax(y, axis=1) for _, y in it]

  def test_class_sorted_through_a_small_buffer(self):
    from tfmixup import datasets  # noqa: PLC0415

    data = coded_arrays(600, num_classes=3)  # labels index % 3: not sorted as stored
    stage = datasets.batches(data, batch_size=20, seed=4, sorted_buffer=40)
    batches = list(stage)
    ids = np.concatenate([x[:, 0, 0, 0].numpy().astype(int) for x, _ in batches])
    self.assertAllEqual(np.sort(ids), np.arange(600))  # every example once
    first = np.argmax(batches[0][1], axis=1)
    self.assertAllEqual(first, np.zeros(20))  # a 40-slot buffer over 200 sorted 0s yields only 0s first
    last = np.argmax(batches[-1][1], axis=1)
    self.assertAllEqual(last, np.full(20, 2))
    # Without the fault the same first batch mixes the classes.
    plain = np.argmax(next(iter(datasets.batches(data, batch_size=20, seed=4)))[1], axis=1)
    self.assertGreater(len(set(plain.tolist())), 1)

  def test_new_order_each_epoch_and_pass(self):
    from tfmixup import datasets  # noqa: PLC0415

    data = coded_arrays(300, num_classes=3)
    stage = datasets.mixup(data, batch_size=300, seed=1, sorted_buffer=50)
    (x1, _), (x2, _) = list(stage.repeat(2))
    self.assertNotAllClose(x1, x2)

  def test_needs_arrays(self):
    from tfmixup import datasets  # noqa: PLC0415

    ds = coded_arrays(30).to_dataset()
    with self.assertRaisesRegex(DataError, "^sorted_buffer needs in-memory arrays"):
      datasets.batches(ds, batch_size=4, seed=0, num_classes=3, sorted_buffer=5)


class ConfigTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(
    (dict(fraction=0.0), "^fraction must be in \\(0, 1\\], got 0.0$"),
    (dict(fraction=1.5), "^fraction must be in"),
    (dict(fraction=0.5, epochs=2), "^fraction=0.5 \\(< 1 epoch\\) needs epochs=1, got epochs=2$"),
    (dict(input_scale=float("nan")), "^input_scale must be finite and > 0"),
    (dict(input_scale=-1.0), "^input_scale must be finite and > 0"),
    (dict(train_per_class=0), "^train_per_class must be a positive integer or None"),
    (dict(sorted_buffer=2.5), "^sorted_buffer must be a positive integer or None"),
  )
  def test_errors(self, kwargs, message):
    with self.assertRaisesRegex(ConfigError, message):
      TrainConfig(**kwargs)

  def test_run_names_say_the_regime(self):
    self.assertEqual(TrainConfig().run_name, "mnist-all-erm-seed0")  # unchanged: old results stay valid
    config = TrainConfig(
      method="mixup", epochs=1, fraction=0.2, train_per_class=300, sorted_buffer=5000, input_scale=255
    )
    self.assertEqual(config.run_name, "mnist-all-mixup-a1-n300-f0.2-sb5000-x255-seed0")


class DataTest(tf.test.TestCase):
  def test_take_per_class(self):
    data = coded_arrays(50, num_classes=4)
    clustered = dataclasses.replace(data, labels=np.repeat([2, 0, 3, 1], [20, 10, 15, 5]))  # classes in runs
    got = clustered.take_per_class(3)
    self.assertAllEqual(got.images[:, 0, 0, 0], [0, 1, 2, 20, 21, 22, 30, 31, 32, 45, 46, 47])  # stored order kept
    self.assertAllEqual(got.labels, [2, 2, 2, 0, 0, 0, 3, 3, 3, 1, 1, 1])
    self.assertLen(clustered.take_per_class(12).labels, 12 + 10 + 12 + 5)  # a smaller class gives what it has

  def test_data_for_equals_load_data(self):
    config = TrainConfig(data_dir=MNIST, classes=(6, 8, 9), train_per_class=50, test_size=70)
    full = training.load_data(TrainConfig(data_dir=MNIST))
    want, got = training.load_data(config), training.data_for(config, full)
    for a, b in ((want.train, got.train), (want.test, got.test)):
      self.assertAllEqual(a.images, b.images)
      self.assertAllEqual(a.labels, b.labels)
    self.assertAllEqual(np.bincount(got.train.labels), [50, 50, 50])
    self.assertLen(got.test.labels, 70)


class ModelAndTrainingTest(tf.test.TestCase):
  def test_input_scale_multiplies_the_inputs(self):
    keras.utils.set_random_seed(0)
    plain = build_model((28, 28, 1), 3)
    scaled = build_model((28, 28, 1), 3, input_scale=255.0)
    scaled.set_weights(plain.get_weights())  # Rescaling has no weights
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    self.assertAllClose(scaled(x), plain(255.0 * x), rtol=1e-5, atol=1e-4)
    self.assertEqual(plain.count_params(), scaled.count_params())

  def test_the_trainer_gets_the_input_scale(self):
    keras.utils.set_random_seed(0)
    model, trainer = training.build_trainer(TrainConfig(input_scale=255.0), (28, 28, 1), 3)
    plain = build_model((28, 28, 1), 3)
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(1).random((2, 28, 28, 1)).astype(np.float32)
    self.assertAllClose(trainer(x), plain(255.0 * x), rtol=1e-5, atol=1e-4)

  @pytest.mark.slow
  def test_fraction_trains_that_share_of_an_epoch(self):
    config = TrainConfig(
      data_dir=MNIST, classes=(6, 8, 9), method="mixup", epochs=1, fraction=0.3, train_size=640, test_size=64
    )
    result = training.train(config, verbose=0)
    self.assertEqual(result["optimizer_steps"], 2)  # round(0.3 · 5 batches) = 2 (not 5)
    full = training.train(dataclasses.replace(config, fraction=1.0), verbose=0)
    self.assertEqual(full["optimizer_steps"], 5)


class PlanTest(tf.test.TestCase):
  def test_session_sweep_and_causal_plan(self):
    preset, base = regimes.PRESETS["session"], TrainConfig(data_dir=MNIST)
    jobs = science.sweep_jobs(preset, base)
    names = [j.config.run_name for j in jobs]
    self.assertLen(set((j.regime, n) for j, n in zip(jobs, names, strict=True)), len(jobs))  # no run twice
    e5 = [j for j in jobs if j.regime == "e5"]
    self.assertTrue(all(j.config.epochs == 5 for j in e5))
    a4 = [j for j in jobs if j.regime == "a4"]
    self.assertEqual({j.config.method for j in a4}, {"mixup"})  # ERM shared with e1
    self.assertEqual({j.config.alpha for j in a4}, {4.0})
    raw = [j for j in jobs if j.regime == "raw"]
    self.assertEqual({(j.config.input_scale, j.config.epochs) for j in raw}, {(255.0, 1)})

  def test_swap_subsets(self):
    swap = science.swap_subsets()
    k, (a, b) = regimes.SWAP_K, regimes.SWAP_PAIR
    self.assertEqual(list(swap.values()), [(6, 9, 8), (6, 9, k), (a, b, 8), (a, b, k)])
    self.assertTrue({a, b, k}.isdisjoint({6, 8, 9}) and len({a, b, k}) == 3)
