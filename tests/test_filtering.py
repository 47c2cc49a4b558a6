"""Intrusion filtering: the filter drops what the judge flags, the control drops as many at random per stratum.

The judge here is a fake whose answer numpy can recompute exactly: the
class of a mix is the third of [0, 1] its first pixel falls in. Images are
uint8 with class-typed brightness (class 0 dark, 1 middle, 2 bright, some
labels changed at random), so mixes of 0 and 2 often look like 1 (flagged),
and the flags are recomputed in numpy from the pairs and λ, float32 as the
stage computes them.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR, coded_arrays
from scipy import stats

from tfmixup import datasets, methods, training
from tfmixup.config import ConfigError, TrainConfig
from tfmixup.study import filter_methods, filtering, intrusion

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE, BATCH, K = 1203, 100, 3  # the last batch is smaller


def brightness_data(size: int = SIZE, seed: int = 0) -> datasets.ImageArrays:
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (size, 2, 2, 1), dtype=np.uint8)
  labels = images[:, 0, 0, 0].astype(np.int64) * K // 256
  relabel = rng.random(size) < 0.25
  labels[relabel] = rng.integers(0, K, int(relabel.sum()))
  names = tuple(str(c) for c in range(K))
  return datasets.ImageArrays(images=images, labels=labels, class_names=names, source_classes=tuple(range(K)))


def third_judge(images: tf.Tensor) -> tf.Tensor:
  """The third of [0, 1] the first pixel falls in."""
  return tf.cast(tf.clip_by_value(tf.floor(images[:, 0, 0, 0] * 3.0), 0.0, 2.0), tf.int32)


def numpy_judged(images: np.ndarray, index_a, index_b, lam) -> np.ndarray:
  """`third_judge` of the mixes, float32 as `mixing.mix_stored_batches` computes them."""
  lam = lam.astype(np.float32)
  scale = np.float32(1.0 / 255.0)
  a, b = images[index_a, 0, 0, 0].astype(np.float32), images[index_b, 0, 0, 0].astype(np.float32)
  pixel = a * (lam * scale) + b * ((np.float32(1.0) - lam) * scale)
  return np.clip(np.floor(pixel * np.float32(3.0)), 0, 2).astype(np.int32)


def numpy_flags(data: datasets.ImageArrays, index_a, index_b, lam) -> np.ndarray:
  judged = numpy_judged(data.images, index_a, index_b, lam)
  return (judged != data.labels[index_a]) & (judged != data.labels[index_b])


def numpy_strata(data: datasets.ImageArrays, index_a, index_b, lam, bins: int = 10) -> np.ndarray:
  """(unordered class pair, bin of the lower class's weight), written independently of `filtering.strata`."""
  ca, cb = data.labels[index_a], data.labels[index_b]
  weight_low = np.where(ca <= cb, lam, 1.0 - lam)
  which = np.minimum((weight_low * bins).astype(np.int64), bins - 1)
  return np.minimum(ca, cb) * 100_000 + np.maximum(ca, cb) * 1000 + which


def stage(mode: str, seed: int = 0, data=None, **options):
  data = brightness_data() if data is None else data
  return filtering.intrusion_filtered_mixup(data, judge=third_judge, mode=mode, batch_size=BATCH, seed=seed, **options)


def epochs_of(ds, count: int = 2) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
  """`count` epochs, each `(images, labels, weights)` concatenated over its batches."""
  out = []
  for _ in range(count):
    batches = [tuple(t.numpy() for t in batch) for batch in ds]
    out.append(tuple(np.concatenate(parts) for parts in zip(*batches, strict=True)))
  return out


class FilteredStageTest(tf.test.TestCase, parameterized.TestCase):
  _cache: dict = {}

  def epochs(self, mode: str) -> list:
    if mode not in self._cache:
      self._cache[mode] = epochs_of(
        datasets.mixup(brightness_data(), batch_size=BATCH, seed=0) if mode == "mixup" else stage(mode)
      )
    return self._cache[mode]

  def flags(self, epoch: int) -> dict:
    key = ("flags", epoch)
    if key not in self._cache:
      self._cache[key] = filtering.intrusion_flags(brightness_data(), third_judge, BATCH, 0, 1.0, epoch)
    return self._cache[key]

  def test_flags_are_the_stage_pairs_and_lambda(self):
    # intrusion_flags's pairs and λ, mixed in numpy, are the images the stage yields.
    data = brightness_data()
    for epoch, (images, _, _) in enumerate(self.epochs("drop")):
      f = self.flags(epoch)
      lam = f["lam"].astype(np.float32).reshape(-1, 1, 1, 1)
      scale = np.float32(1 / 255)
      expected = data.images[f["index_a"]].astype(np.float32) * (lam * scale) + data.images[f["index_b"]].astype(
        np.float32
      ) * ((np.float32(1) - lam) * scale)
      self.assertAllClose(images, expected, atol=1e-6)

  def test_drop_weights_are_the_numpy_flags(self):
    data = brightness_data()
    for epoch, (_, _, weights) in enumerate(self.epochs("drop")):
      f = self.flags(epoch)
      flagged = numpy_flags(data, f["index_a"], f["index_b"], f["lam"])
      self.assertBetween(flagged.mean(), 0.03, 0.5)  # the test can see something
      self.assertEqual(weights.dtype, np.float32)
      self.assertAllEqual(weights, np.where(flagged, 0.0, 1.0))
      self.assertAllEqual(f["flagged"], flagged)

  @parameterized.parameters("drop", "relabel", "control")
  def test_same_pairs_and_lambda_as_mixup(self, mode):
    for epoch, ((images, labels, _), (mix_images, mix_labels, _)) in enumerate(
      zip(self.epochs(mode), [e + (None,) for e in self.epochs("mixup")], strict=True)
    ):
      self.assertAllEqual(images, mix_images)
      untouched = ~self.flags(epoch)["flagged"] if mode == "relabel" else slice(None)
      self.assertAllEqual(labels[untouched], mix_labels[untouched])

  def test_relabel_one_hot_judge_class_on_flagged_rows_only(self):
    data = brightness_data()
    for epoch, ((_, labels, weights), (_, mix_labels, _)) in enumerate(
      zip(self.epochs("relabel"), [e + (None,) for e in self.epochs("mixup")], strict=True)
    ):
      f = self.flags(epoch)
      flagged = numpy_flags(data, f["index_a"], f["index_b"], f["lam"])
      judged = numpy_judged(data.images, f["index_a"], f["index_b"], f["lam"])
      self.assertAllEqual(labels[flagged], np.eye(K, dtype=np.float32)[judged[flagged]])
      self.assertAllEqual(labels[~flagged], mix_labels[~flagged])
      self.assertAllEqual(weights, np.ones(len(weights), np.float32))

  def test_control_drops_as_many_per_stratum_never_a_flagged_one(self):
    data = brightness_data()
    total_flagged = total_dropped = 0
    for epoch, (_, _, weights) in enumerate(self.epochs("control")):
      f = self.flags(epoch)
      flagged = numpy_flags(data, f["index_a"], f["index_b"], f["lam"])
      dropped = weights == 0
      self.assertAllEqual(np.unique(weights), [0.0, 1.0])
      self.assertFalse(np.any(dropped & flagged), "the control dropped a flagged mix")
      self.assertAllEqual(dropped, f["control_dropped"])
      strata = numpy_strata(data, f["index_a"], f["index_b"], f["lam"])
      for s in np.unique(strata):
        inside = strata == s
        wanted = min(int(np.sum(flagged & inside)), int(np.sum(~flagged & inside)))
        self.assertEqual(int(np.sum(dropped & inside)), wanted, f"stratum {s}")
      total_flagged, total_dropped = total_flagged + flagged.sum(), total_dropped + dropped.sum()
    self.assertGreater(total_dropped, 0.8 * total_flagged)  # most strata have enough

  def test_keras_fit_uses_the_weights_over_the_batch_size(self):
    # One step of fit on the stage's first batch (learning rate 0): the loss
    # is Σ w·loss / B, not Σ w·loss / Σ w, and dropped mixes add nothing.
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(K)])
    model.compile(keras.optimizers.SGD(0.0), keras.losses.CategoricalCrossentropy(from_logits=True))
    x, y, w = next(iter(stage("drop")))  # epoch 0's first batch (a stage of its own: iterating advances the epoch)
    self.assertBetween(float(tf.reduce_mean(w)), 0.01, 0.99)
    per_example = keras.losses.categorical_crossentropy(y, model(x), from_logits=True).numpy()
    history = model.fit(stage("drop").take(1), epochs=1, verbose=0, shuffle=False)
    self.assertAllClose(history.history["loss"][0], np.sum(w.numpy() * per_example) / BATCH, rtol=1e-5)

  def test_worker_shares_partition_the_batches(self):
    # Two workers' shares of every batch, side by side: the single worker's
    # batches, weights included (flags are cut between workers as the draws are).
    whole = [tuple(t.numpy() for t in b) for b in stage("control", drop_remainder=True)]
    shares = [
      [tuple(t.numpy() for t in b) for b in stage("control", drop_remainder=True, num_workers=2, worker_index=i)]
      for i in range(2)
    ]
    for batch, first, second in zip(whole, *shares, strict=True):
      for part, a, b in zip(batch, first, second, strict=True):
        self.assertAllEqual(part, np.concatenate([a, b]))

  def test_control_stratum_does_not_depend_on_pair_order(self):
    ca, cb = tf.constant([0, 2, 1, 1]), tf.constant([2, 0, 1, 1])
    lam = tf.constant([0.25, 0.75, 0.25, 0.25])
    got = filtering.strata(ca, cb, lam, num_classes=3, bins=4).numpy()
    self.assertEqual(got[0], got[1])  # (0, 2, λ) and (2, 0, 1 - λ)
    self.assertEqual(got[0], (0 * 3 + 2) * 4 + 1)
    self.assertEqual(got[2], (1 * 3 + 1) * 4 + 1)
    self.assertEqual(filtering.strata(ca[:1], cb[:1], tf.constant([1.0]), 3, 4).numpy()[0], (0 * 3 + 2) * 4 + 3)

  def test_schedule_off_epoch_is_unmixed_with_weight_one(self):
    (images, _, weights), (_, _, weights1) = epochs_of(stage("drop", schedule=datasets.Schedule(start=1)))
    data = brightness_data()
    self.assertAllEqual(weights, np.ones(SIZE, np.float32))
    self.assertIn(np.rint(images[0, 0, 0, 0] * 255).astype(np.uint8), data.images[:, 0, 0, 0])
    self.assertLess(weights1.mean(), 1.0)

  def test_errors_are_one_line(self):
    data = brightness_data()
    for call, pattern in (
      (lambda: stage("dropp"), r"^mode must be one of drop, relabel, control, got 'dropp'$"),
      (lambda: stage("control", bins=0), r"^bins must be a positive integer, got 0$"),
      (lambda: stage("drop", data=data.to_dataset()), r"^intrusion filtering [^\n]*not a Dataset$"),
      (
        lambda: filtering.intrusion_filtered_mixup(data, judge=None, mode="drop", batch_size=8, seed=0),
        r"^judge must be a function of images, got NoneType$",
      ),
    ):
      with self.assertRaisesRegex(datasets.DataError, pattern):
        call()


@pytest.mark.stats
class ControlChoiceTest(tf.test.TestCase):
  def test_uniform_within_a_stratum(self):
    # A fixed layout, 400 seeds: every non-flagged mix of a stratum is dropped
    # equally often (χ² per stratum), flagged ones never.
    rng = np.random.default_rng(5)
    stratum = rng.integers(0, 4, 240).astype(np.int32)
    flagged = rng.random(240) < 0.2
    counts = np.zeros(240)
    flagged_t, stratum_t = tf.constant(flagged), tf.constant(stratum)
    for seed in range(400):
      counts += filtering.control_drops(flagged_t, stratum_t, 4, tf.constant([seed, 7], tf.int64)).numpy()
    self.assertEqual(counts[flagged].sum(), 0)
    for s in range(4):
      pool = ~flagged & (stratum == s)
      expected = 400 * min(np.sum(flagged & (stratum == s)), pool.sum()) / pool.sum()
      self.assertAllClose(counts[pool].mean(), expected)
      self.assertGreater(stats.chisquare(counts[pool]).pvalue, 1e-3, f"stratum {s}")

  def test_stage_choice_uniform_over_stream_order_and_new_each_epoch(self):
    # Within each stratum, where the dropped mixes sit among its non-flagged
    # ones (in stream order) is uniform (χ² over 10 bins, pooled over 12
    # epochs), and the positions dropped in consecutive epochs overlap no
    # more than independent choices would.
    data = brightness_data(3000, seed=1)
    quantiles, overlaps, expected = [], 0, 0.0
    previous = None
    for epoch in range(12):
      f = filtering.intrusion_flags(data, third_judge, BATCH, 3, 1.0, epoch)
      for s in np.unique(f["stratum"]):
        pool = np.flatnonzero(~f["flagged"] & (f["stratum"] == s))
        rank = np.flatnonzero(f["control_dropped"][pool])
        quantiles.extend((rank + 0.5) / len(pool))
      dropped = f["control_dropped"]
      if previous is not None:
        overlaps += int(np.sum(previous & dropped))
        expected += previous.sum() * dropped.sum() / len(dropped)
      previous = dropped
    self.assertGreater(len(quantiles), 1000)
    table = np.histogram(quantiles, bins=10, range=(0, 1))[0]
    self.assertGreater(stats.chisquare(table).pvalue, 1e-3)
    self.assertLess(overlaps, expected + 5 * np.sqrt(expected) + 5)


class DrawnIntrusionTest(tf.test.TestCase):
  def test_rates_are_the_flags(self):
    data = brightness_data()
    result = intrusion.drawn_intrusion(data, third_judge, batch_size=BATCH, seed=0, epochs=2)
    flags = [filtering.intrusion_flags(data, third_judge, BATCH, 0, 1.0, e) for e in range(2)]
    flagged = np.concatenate([f["flagged"] for f in flags])
    self.assertEqual(result["mixes"], 2 * SIZE)
    self.assertEqual(result["intruding"], int(flagged.sum()))
    self.assertEqual(sum(row["mixes"] for row in result["pairs"]), 2 * SIZE)
    self.assertEqual(sum(row["intruding"] for row in result["pairs"]), int(flagged.sum()))
    self.assertLen(result["pairs"], 6)  # same-class pairs included
    by_pair = {(row["first"], row["second"]): row for row in result["pairs"]}
    # Mixes of classes 0 and 1 or 1 and 2 stay between them: rarely a third class.
    self.assertGreater(by_pair[("0", "2")]["rate"], by_pair[("0", "1")]["rate"])


class MethodsTest(tf.test.TestCase):
  def test_registered(self):
    for name in ("mixup_filtered", "mixup_relabeled", "mixup_random_drop"):
      self.assertTrue(methods.get(name).uses_alpha)

  def test_teacher_validated_in_one_line(self):
    with self.assertRaisesRegex(ConfigError, r"^teacher must be 'nn' or the path of a .keras model, got 'erm.h5'$"):
      TrainConfig(method="mixup_filtered", teacher="erm.h5")

  def test_run_name_names_a_model_teacher_only(self):
    base = dict(dataset="mnist", classes=(6, 8, 9), seed=0)
    self.assertEqual(TrainConfig(method="mixup_filtered", **base).run_name, "mnist-689-mixup_filtered-a1-seed0")
    self.assertEqual(
      TrainConfig(method="mixup_random_drop", teacher="models/erm 689.keras", **base).run_name,
      "mnist-689-mixup_random_drop-a1-term_689-seed0",
    )
    self.assertEqual(TrainConfig(method="mixup", teacher="x/erm.keras", **base).run_name, "mnist-689-mixup-a1-seed0")

  def test_missing_teacher_file_when_the_stage_is_built(self):
    config = TrainConfig(method="mixup_filtered", teacher="/nonexistent/erm.keras", classes=(0, 1))
    with self.assertRaisesRegex(ConfigError, r"^teacher model '/nonexistent/erm.keras' not found$"):
      training.training_stage(config, brightness_data())

  def test_unreadable_or_mismatched_teacher_in_one_line(self):
    tmp = self.create_tempdir().full_path
    good = os.path.join(tmp, "good.keras")
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]).save(good)
    truncated, text = os.path.join(tmp, "truncated.keras"), os.path.join(tmp, "text.keras")
    with open(good, "rb") as f, open(truncated, "wb") as g:
      g.write(f.read()[:300])
    with open(text, "w") as f:
      f.write("not a model\n")
    data = coded_arrays(8, num_classes=2, shape=(28, 28, 1))
    for path, message in (
      (truncated, r"^teacher '.*truncated.keras' is not a readable Keras model \(not a .keras zip archive: trunc"),
      (text, r"^teacher '.*text.keras' is not a readable Keras model \(not a .keras zip archive"),
      (good, r"^teacher '.*good.keras' takes images of shape \[32, 32, 3\], the data's are \[28, 28, 1\]$"),
    ):
      config = TrainConfig(method="mixup_filtered", teacher=path, classes=(4, 7))
      with self.assertRaisesRegex(ConfigError, message):
        filter_methods.judge(config, data)

  @pytest.mark.slow
  @pytest.mark.real_data
  def test_flag_errors_are_one_line(self):
    # --teacher reaches the config (bad suffix), and a missing file is reported
    # when the stage is built, as the program's one-line error.
    for args, message in (
      (
        ["--teacher=erm.h5"],
        r"^train_main.py: error: teacher must be 'nn' or the path of a .keras model, got 'erm.h5'$",
      ),
      (
        ["--teacher=/nonexistent/erm.keras", f"--data_dir={MNIST_DIR}", "--train_size=50", "--epochs=1", "--runs=1"],
        r"^train_main.py: error: teacher model '/nonexistent/erm.keras' not found$",
      ),
    ):
      proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train_main.py"), "--method=mixup_filtered", "--subset=689", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        cwd=self.get_temp_dir(),
      )
      self.assertNotEqual(proc.returncode, 0)
      self.assertNotIn("Traceback", proc.stderr)
      errors = [line for line in proc.stderr.splitlines() if line.startswith("train_main.py: error")]
      self.assertLen(errors, 1, msg=proc.stderr)
      self.assertRegex(errors[0], message)


@pytest.mark.slow
@pytest.mark.real_data
class EndToEndTest(tf.test.TestCase):
  def test_train_filtered_with_nn_judge(self):
    config = TrainConfig(
      method="mixup_filtered", epochs=1, train_size=600, test_size=300, classes=(6, 8, 9), data_dir=MNIST_DIR, seed=0
    )
    result = training.train(config, verbose=0)
    self.assertLen(result["history"]["loss"], 1)
    self.assertTrue(np.isfinite(result["history"]["loss"][0]))

  def test_train_control_with_model_teacher(self):
    # A saved three-class model as the judge (inside the tf.data graph during fit).
    path = os.path.join(self.get_temp_dir(), "erm.keras")
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.save(path)
    config = TrainConfig(
      method="mixup_random_drop",
      teacher=path,
      epochs=1,
      train_size=300,
      test_size=100,
      classes=(6, 8, 9),
      data_dir=MNIST_DIR,
      seed=0,
    )
    result = training.train(config, verbose=0)
    self.assertTrue(np.isfinite(result["history"]["loss"][0]))
    wrong = os.path.join(self.get_temp_dir(), "two.keras")
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]).save(wrong)
    config = TrainConfig(method="mixup_relabeled", teacher=wrong, classes=(6, 8, 9), data_dir=MNIST_DIR, train_size=50)
    with self.assertRaisesRegex(ConfigError, r"^teacher '.*two.keras' has 2 outputs, the data 3 classes$"):
      training.training_stage(config, training.load_data(config).train)


if __name__ == "__main__":
  tf.test.main()
