"""The remedies for intrusion: Manifold Mixup, AdaMixUp and Mixup + clean half, stages and trainers."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import MNIST_DIR, coded_arrays
from scipy import stats

from tfmixup import checkpoints, datasets, methods, trainers, training
from tfmixup.config import TrainConfig
from tfmixup.datasets import ImageArrays, Schedule, draws, remedies, seeds
from tfmixup.model import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (18, 18, 1)  # the smallest images the three-conv model takes
TINY = dict(filters=(4, 8, 8))


def random_arrays(size: int, num_classes: int = 3, shape=SHAPE, seed: int = 0) -> ImageArrays:
  """Random float images in [0, 1), labels index % K."""
  images = np.random.default_rng(seed).random((size, *shape), np.float32)
  labels = np.arange(size) % num_classes
  names = tuple(str(c) for c in range(num_classes))
  return ImageArrays(images=images, labels=labels, class_names=names, source_classes=tuple(range(num_classes)))


def one_hot(indices, num_classes: int) -> np.ndarray:
  return np.eye(num_classes, dtype=np.float32)[np.asarray(indices) % num_classes]


def values(variables) -> list[np.ndarray]:
  return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def changed(before, after) -> bool:
  return any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))


class ManifoldStageTest(tf.test.TestCase):
  def test_labels_mix_each_pair_with_the_batch_lambda(self):
    data = coded_arrays(60, num_classes=3, shape=(2, 2, 1))  # every pixel is the example's index
    stage = datasets.manifold_pairs(data, batch_size=8, seed=4, alpha=0.5)
    for _ in range(2):
      for x, y in stage:
        self.assertEqual(x["layer"].dtype, tf.int32)
        self.assertEqual(x["layer"].shape, [])
        self.assertIn(int(x["layer"]), (0, 1, 2))
        lam = x["lam"].numpy()
        self.assertEqual(lam.shape[1], 1)
        self.assertAllEqual(lam, np.full_like(lam, lam[0, 0]))  # one λ per batch
        first, partners = x["images"].numpy()[:, 0, 0, 0], x["partners"].numpy()[:, 0, 0, 0]
        want = lam * one_hot(first.astype(int), 3) + (1 - lam) * one_hot(partners.astype(int), 3)
        self.assertAllClose(y, want, atol=1e-6)

  @pytest.mark.slow
  @pytest.mark.stats
  def test_layer_and_lambda_draws_per_batch(self):
    # 3,000 batches of one example per epoch: the layer is uniform over the three
    # points (χ²), λ is Beta(α, α) (KS), and the next epoch draws anew.
    alpha, batches = 0.4, 3000
    stage = datasets.manifold_pairs(coded_arrays(batches, shape=(1, 1, 1)), batch_size=1, seed=9, alpha=alpha)
    epochs = []
    for _ in range(2):
      draws_ = [(int(x["layer"]), float(x["lam"][0, 0])) for x, _ in stage]
      epochs.append(np.array(draws_))
    for epoch in epochs:
      counts = np.bincount(epoch[:, 0].astype(int), minlength=3)
      self.assertLen(counts, 3)
      self.assertGreater(stats.chisquare(counts).pvalue, 1e-3, msg=counts)
      self.assertGreater(stats.kstest(epoch[:, 1], "beta", args=(alpha, alpha)).pvalue, 1e-3)
    self.assertLess(np.mean(epochs[0][:, 0] == epochs[1][:, 0]), 0.5)  # agreeing by chance: about 1/3
    self.assertFalse(np.array_equal(epochs[0][:, 1], epochs[1][:, 1]))

  def test_an_unmixed_epoch_mixes_nothing(self):
    data = coded_arrays(16, num_classes=3, shape=(2, 2, 1))
    x, y = next(iter(datasets.manifold_pairs(data, batch_size=8, seed=1, schedule=Schedule(start=1))))
    self.assertAllEqual(x["partners"], x["images"])
    self.assertAllEqual(x["lam"], np.ones([8, 1]))
    self.assertEqual(int(x["layer"]), 0)
    self.assertAllEqual(y, one_hot(x["images"].numpy()[:, 0, 0, 0].astype(int), 3))


class ManifoldTrainerTest(tf.test.TestCase):
  def test_mixing_points_are_found_by_layer_type(self):
    model = build_model(SHAPE, 3, **TINY)
    self.assertEqual(trainers.mixing_points(model), (0, 2, 4))
    with_rescaling = keras.Sequential([keras.Input(SHAPE), keras.layers.Rescaling(2.0), *model.layers])
    self.assertEqual(trainers.mixing_points(with_rescaling), (0, 3, 5))
    with self.assertRaisesRegex(ValueError, "pooling layers"):
      trainers.mixing_points(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))

  def reference(self, model, images, partners, lam, start):
    """Logits of the mix at `model.layers[start]`, computed layer by layer here."""
    hidden_a, hidden_b = images, partners
    for layer in model.layers[:start]:
      hidden_a, hidden_b = layer(hidden_a), layer(hidden_b)
    hidden = lam * hidden_a + (1 - lam) * hidden_b
    for layer in model.layers[start:]:
      hidden = layer(hidden)
    return hidden.numpy()

  def test_the_layer_is_chosen_at_run_time_in_one_compiled_function(self):
    model = build_model(SHAPE, 3, **TINY)
    trainer = trainers.ManifoldMixupTrainer(model)
    rng = np.random.default_rng(3)
    inputs = {
      "images": tf.constant(rng.random((4, *SHAPE), np.float32)),
      "partners": tf.constant(rng.random((4, *SHAPE), np.float32)),
      "lam": tf.fill([4, 1], 0.3),
    }
    compiled = tf.function(trainer.call, jit_compile=True)
    outputs = []
    for layer, start in enumerate((0, 2, 4)):
      got = compiled({**inputs, "layer": tf.constant(layer, tf.int32)}).numpy()
      want = self.reference(model, inputs["images"], inputs["partners"], 0.3, start)
      self.assertAllClose(got, want, atol=1e-5, msg=f"layer {layer}")
      outputs.append(got)
    self.assertEqual(compiled.experimental_get_tracing_count(), 1)  # one trace mixed at all three points
    for i, j in ((0, 1), (0, 2), (1, 2)):
      self.assertGreater(np.abs(outputs[i] - outputs[j]).max(), 1e-4, msg=f"layers {i} and {j}")

  @pytest.mark.slow
  def test_it_fits_compiled_and_shares_the_weights(self):
    model = build_model(SHAPE, 3, **TINY)
    trainer = methods.get("manifold_mixup").training_model(model, TrainConfig(method="manifold_mixup"))
    self.assertIs(trainer.classifier, model)
    self.assertEmpty([v for v in trainer.weights if not any(v is w for w in model.weights)])  # no weights of its own
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, jit_compile=True)
    before = values(model.weights)
    stage = datasets.manifold_pairs(random_arrays(32), batch_size=16, seed=0)
    history = trainer.fit(stage, epochs=1, verbose=0, shuffle=False).history
    self.assertTrue(np.isfinite(history["loss"][0]))
    self.assertTrue(changed(before, values(model.weights)))


class AdaMixUpStageTest(tf.test.TestCase):
  def test_pairs_and_others_partition_the_first_pass(self):
    data = coded_arrays(40, num_classes=4, shape=(2, 2, 1))
    stage = datasets.adamixup_batches(data, batch_size=8, seed=3, label_smoothing=0.1)
    seen = []
    for x, y in stage:
      first, partners, others = (x[name].numpy()[:, 0, 0, 0].astype(int) for name in ("first", "partners", "others"))
      self.assertLen(first, 4)
      self.assertLen(others, 4)
      self.assertAllInRange(x["u"], 0.0, 1.0)
      self.assertAllClose(y["first_labels"], one_hot(first, 4) * 0.9 + 0.025)
      self.assertAllClose(y["partner_labels"], one_hot(partners, 4) * 0.9 + 0.025)
      seen.extend([*first, *others])
    self.assertCountEqual(seen, range(40))  # each example once per epoch, as a first example or another original

  def test_odd_batches_and_schedules_are_refused(self):
    data = coded_arrays(40, shape=(2, 2, 1))
    with self.assertRaisesRegex(datasets.DataError, r"^batch_size must be even .*, got 7$"):
      datasets.adamixup_batches(data, batch_size=7, seed=0)
    with self.assertRaisesRegex(datasets.DataError, r"^batch_size must be even"):
      datasets.mixup_clean_half(data, batch_size=7, seed=0)
    with self.assertRaisesRegex(datasets.DataError, "takes no schedule"):
      datasets.adamixup_batches(data, batch_size=8, seed=0, schedule=Schedule(start=1))
    with self.assertRaisesRegex(datasets.DataError, "does not shard"):
      datasets.mixup_clean_half(data, batch_size=8, seed=0, num_workers=2)


@pytest.mark.slow
class AdaMixUpTrainerTest(tf.test.TestCase):
  def batch(self, seed: int = 0):
    stage = datasets.adamixup_batches(random_arrays(32, seed=seed), batch_size=16, seed=seed)
    return next(iter(stage))

  def test_lambda_stays_in_the_policy_interval_and_mixes_exactly(self):
    trainer = trainers.AdaMixUpTrainer(build_model(SHAPE, 3, **TINY))
    x, y = self.batch()
    lam, low, high = (t.numpy() for t in trainer.policy_lambdas(x))
    self.assertAllGreaterEqual(low, 0.0)
    self.assertAllLessEqual(high, 1.0)
    self.assertTrue(np.all((low <= lam) & (lam <= high)), msg=(low, lam, high))
    self.assertAllClose(lam, low + x["u"].numpy() * (high - low), atol=1e-6)
    self.assertGreater(np.ptp(lam), 0.0)
    outputs = trainer(x)
    self.assertAllClose(outputs["lam"], lam, atol=1e-6)
    first, partners = x["first"].numpy(), x["partners"].numpy()
    mixes = lam[:, None, None, None] * first + (1 - lam[:, None, None, None]) * partners
    self.assertAllClose(trainer.mix(first, partners, lam), mixes, atol=1e-6)
    # The classifier's rows: the mixes, then the clean first examples; their targets alike.
    self.assertAllClose(outputs["logits"], trainer.classifier(np.concatenate([mixes, first])), atol=1e-5)
    y_a, y_b = y["first_labels"].numpy(), y["partner_labels"].numpy()
    want = np.concatenate([lam[:, None] * y_a + (1 - lam[:, None]) * y_b, y_a])
    self.assertAllClose(trainer.targets(y, outputs["lam"]), want, atol=1e-6)

  def test_the_discriminator_loss_is_part_of_the_total_loss(self):
    config = TrainConfig(method="adamixup", batch_size=16)
    model, trainer = training.build_trainer(config, SHAPE, 3)
    x, y = self.batch(1)
    outputs = trainer(x)
    (intrusion_loss,) = trainer.losses
    features = np.concatenate([trainer.mix(x["first"], x["partners"], outputs["lam"]), x["others"]])
    for layer in model.layers[:-1]:  # the classifier's trunk
      features = layer(features)
    logits = trainer.intrusion_head(features).numpy()
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    want = -np.mean(np.concatenate([log_p[:8, 0], log_p[8:, 1]]))  # mixes are class 0, originals class 1
    self.assertAllClose(intrusion_loss, want, atol=1e-5)
    classifier_loss = keras.losses.CategoricalCrossentropy(from_logits=True)(
      trainer.targets(y, outputs["lam"]), outputs["logits"]
    )
    total = trainer.compute_loss(x, y, outputs)
    self.assertAllClose(total, classifier_loss + intrusion_loss, atol=1e-5)

  def test_one_optimizer_trains_classifier_policy_and_discriminator(self):
    config = TrainConfig(method="adamixup", batch_size=16, learning_rate=1e-2)
    model, trainer = training.build_trainer(config, SHAPE, 3)
    parts = {
      "classifier": model.trainable_variables,
      "policy": trainer.policy.trainable_variables,
      "intrusion head": trainer.intrusion_head.trainable_variables,
    }
    before = {name: values(variables) for name, variables in parts.items()}
    stage = training.training_stage(config, random_arrays(64))
    history = trainer.fit(stage, epochs=1, verbose=0, shuffle=False).history
    self.assertTrue(np.isfinite(history["loss"][0]))
    self.assertBetween(history["accuracy"][0], 0.0, 1.0)
    for name, variables in parts.items():
      # Every layer of the policy learns: its gradient comes through λ.
      for b, a in zip(before[name], values(variables), strict=True):
        self.assertFalse(np.array_equal(b, a), msg=f"{name}: a weight of shape {b.shape} did not change")
    # Its own weights are checkpointed with the trainer.
    directory = self.create_tempdir().full_path
    checkpoint = checkpoints.RunCheckpoint(directory, config.to_dict(), log=lambda line: None)
    checkpoint.save(trainer, 1, {"loss": [1.0], "test_accuracy": [0.5]})
    _, fresh = training.build_trainer(config, SHAPE, 3)
    self.assertEqual(checkpoint.restore(fresh).epoch, 1)
    for got, want in zip(values(fresh.weights), values(trainer.weights), strict=True):
      self.assertAllEqual(got, want)


class MixupCleanHalfTest(tf.test.TestCase):
  def test_mixes_then_the_same_examples_clean(self):
    # The whole epoch against numpy, from the stage's own permutations and draws.
    data, alpha, batch, seed = random_arrays(40, num_classes=4, shape=(2, 2, 1)), 0.4, 8, 11
    stage = datasets.mixup_clean_half(data, batch_size=batch, seed=seed, alpha=alpha)
    epoch = seeds.epoch_seed(seeds.root(seed), tf.constant(0, tf.int64))
    order_a = draws.permutation(40, seeds.stream(epoch, seeds.Stream.PASS_A)).numpy()
    order_b = draws.permutation(40, seeds.stream(epoch, seeds.Stream.PASS_B)).numpy()
    lam = remedies.MixupCleanHalf(alpha).draw(seeds.stream(epoch, seeds.Stream.LAMBDA), 5, batch, None)["lam"].numpy()
    got = list(stage)
    self.assertLen(got, 5)
    for s, (images, labels) in enumerate(got):
      rows_a, rows_b = order_a[s * batch : s * batch + 4], order_b[s * batch : s * batch + 4]
      x_a, x_b = data.images[rows_a], data.images[rows_b]
      y_a, y_b = one_hot(data.labels[rows_a], 4), one_hot(data.labels[rows_b], 4)
      weight = lam[s][:, None, None, None]
      self.assertAllEqual(images[4:], x_a)  # exactly the first examples, unmixed
      self.assertAllEqual(labels[4:], y_a)
      self.assertAllClose(images[:4], weight * x_a + (1 - weight) * x_b, atol=1e-6)
      self.assertAllClose(labels[:4], lam[s][:, None] * y_a + (1 - lam[s][:, None]) * y_b, atol=1e-6)

  @pytest.mark.stats
  def test_lambda_is_beta_per_example(self):
    # λ read back from the mixed label rows (pairs of different classes), against Beta(α, α).
    alpha, num_classes = 0.4, 10
    data = coded_arrays(4000, num_classes=num_classes, shape=(1, 1, 1))
    lams = []
    for images, labels in datasets.mixup_clean_half(data, batch_size=200, seed=5, alpha=alpha):
      first = images.numpy()[100:, 0, 0, 0].astype(int)  # the clean half: each mix's first example
      rows = labels.numpy()[:100]
      own = rows[np.arange(100), first % num_classes]
      lams.extend(own[own < 1.0])  # pairs of one class give one-hot rows: no λ to read
    self.assertGreater(len(lams), 1500)
    self.assertGreater(stats.kstest(lams, "beta", args=(alpha, alpha)).pvalue, 1e-3)


@pytest.mark.slow
@pytest.mark.real_data
class RemediesTrainTest(tf.test.TestCase):
  def test_each_method_trains_and_saves_a_plain_model(self):
    data = training.load_data(TrainConfig(data_dir=MNIST_DIR, train_size=512, test_size=256, classes=(6, 8, 9)))
    for method in ("manifold_mixup", "adamixup", "mixup_clean_half"):
      config = TrainConfig(
        method=method, epochs=1, train_size=512, test_size=256, data_dir=MNIST_DIR, classes=(6, 8, 9)
      )
      output_dir = self.create_tempdir().full_path
      result = training.train(config, output_dir, data=data, verbose=0, save_model=True)
      self.assertLen(result["history"]["loss"], 1, msg=method)
      self.assertTrue(np.isfinite(result["history"]["loss"][0]), msg=method)
      self.assertLen(result["history"]["test_accuracy"], 1, msg=method)
      self.assertGreater(result["test_accuracy"], 0.4, msg=method)  # chance: 1/3
      saved = keras.models.load_model(training.model_path(output_dir, config))  # nothing to register
      self.assertIsInstance(saved, keras.Sequential)

  def test_the_trainers_under_jax(self):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT)
    script = os.path.join(ROOT, "tests", "remedies_jax_check.py")
    proc = subprocess.run(
      [sys.executable, "-P", script], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env, check=False
    )
    self.assertEqual(proc.returncode, 0, msg=proc.stderr[-3000:])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    self.assertEqual(report["compilations"], 1)
    self.assertEqual(report["equal_to_eager"], [True, True, True])
    self.assertEqual(report["layers_differ"], [True, True, True])
    trained = {"jit_compile": True, "loss_finite": True}
    self.assertEqual(report["manifold_mixup"], {**trained, "changed": {"classifier": True}})
    changed_parts = {"classifier": True, "policy": True, "intrusion_head": True}
    self.assertEqual(report["adamixup"], {**trained, "changed": changed_parts})


if __name__ == "__main__":
  tf.test.main()
