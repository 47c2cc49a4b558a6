"""End to end on real MNIST (../shared/mnist): the training library learns with every method."""

import contextlib
import dataclasses
import io
import json
import os
import subprocess
from unittest import mock

import keras
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR, coded_arrays

import tfmixup
from tfmixup import backend, summaries, training
from tfmixup.config import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 3,000 training images, 2 epochs: a few seconds per method, and far above chance.
SMALL = dict(data_dir=MNIST_DIR, epochs=2, train_size=3000, test_size=1000, batch_size=64)


@pytest.mark.real_data
class TrainingTest(tf.test.TestCase, parameterized.TestCase):
  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    assert os.path.isdir(MNIST_DIR), f"real MNIST expected at {MNIST_DIR}"
    cls.data = training.load_data(TrainConfig(**SMALL))

  @parameterized.named_parameters(
    ("erm", "erm"),
    ("mixup", "mixup"),
    ("cutmix", "cutmix"),
    ("mixup_cutmix", "mixup_cutmix"),
    ("pair", "pair_sampling"),
  )
  @pytest.mark.slow
  def test_learns(self, method):
    config = TrainConfig(method=method, **SMALL)
    output_dir = self.create_tempdir().full_path
    result = training.train(config, output_dir, data=self.data, verbose=0)
    # Chance is 10%; every method reaches far above it.
    self.assertGreater(result["test_accuracy"], 0.8)
    self.assertGreater(result["train_accuracy"], 0.8)
    self.assertLen(result["history"]["loss"], 2)
    self.assertLen(result["history"]["test_accuracy"], 2)
    with open(training.result_path(output_dir, config)) as f:
      saved = json.load(f)
    self.assertEqual(saved["config"], config.to_dict())
    self.assertEqual(saved["test_accuracy"], result["test_accuracy"])
    self.assertIn("tensorflow", saved["versions"])
    self.assertEqual(saved["versions"]["tfmixup"], tfmixup.__version__)
    # The commit of the code that ran: a checkout's HEAD; none for an installed wheel (CI tests one too).
    code_root = os.path.dirname(os.path.dirname(os.path.abspath(tfmixup.__file__)))
    head = subprocess.run(["git", "-C", code_root, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode == 0:
      self.assertEqual(saved["versions"]["git_commit"].removesuffix("-dirty"), head.stdout.strip())
    else:
      self.assertIsNone(saved["versions"]["git_commit"])
    self.assertNotEmpty(os.listdir(os.path.join(output_dir, "tensorboard", config.run_id)))
    self.assertTrainingExamplesWritten(os.path.join(output_dir, "tensorboard", config.run_id, "examples"), config)

  def assertTrainingExamplesWritten(self, log_dir, config):
    """The TensorBoard image is the first training batch, as the model sees it, with its label weights."""
    tags = {}
    for name in os.listdir(log_dir):
      for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, name)):
        for value in event.summary.value:
          tags[value.tag] = tf.make_ndarray(value.tensor)
    self.assertCountEqual(tags, ["training_examples", "training_label_weights"])
    picture = tf.io.decode_png(tags["training_examples"][2]).numpy()
    images, labels = next(iter(training.training_stage(config, self.data.train)))
    want = summaries.example_grid(images.numpy()[: summaries.GRID_EXAMPLES])[0]
    self.assertEqual(picture.shape, want.shape)
    self.assertAllClose(picture / 255.0, want, atol=1 / 255)
    table = tags["training_label_weights"].item().decode()
    self.assertEqual(table, summaries.label_weights_table(labels.numpy()[:16], self.data.train.class_names))

  @pytest.mark.slow
  def test_saved_runs_are_reused_and_subsets_work(self):
    output_dir = self.create_tempdir().full_path
    config = TrainConfig(method="mixup", classes=(6, 8, 9), seed=4, **dict(SMALL, epochs=1))
    first = training.train_runs(config, runs=2, output_dir=output_dir, verbose=0)
    self.assertEqual([r["config"]["seed"] for r in first], [4, 5])
    self.assertEqual(first[0]["class_names"], ["6", "8", "9"])
    self.assertGreater(first[0]["test_accuracy"], 0.6)  # chance: 1/3
    # A second call reads the saved runs back instead of training again.
    again = training.train_runs(config, runs=2, output_dir=output_dir, verbose=0)
    self.assertEqual([r["wall_time_s"] for r in again], [r["wall_time_s"] for r in first])
    # A changed config is not mistaken for a saved one.
    path = training.result_path(output_dir, config)
    with open(path) as f:
      tampered = json.load(f)
    tampered["config"]["epochs"] = 99
    with open(path, "w") as f:
      json.dump(tampered, f)
    self.assertIsNone(training.read_result(output_dir, config))
    # Runs saved by tfmixup < 0.2.0 (related partners) are not reused.
    path = training.result_path(output_dir, dataclasses.replace(config, seed=5))
    with open(path) as f:
      old = json.load(f)
    self.assertIsNotNone(training.read_result(output_dir, dataclasses.replace(config, seed=5)))
    for version in ("0.1.0", None):
      old["versions"]["tfmixup"] = version
      with open(path, "w") as f:
        json.dump(old, f)
      self.assertIsNone(training.read_result(output_dir, dataclasses.replace(config, seed=5)))

  def test_versions_never_fail_a_run(self):
    # tensorflow-datasets without __version__ (seen with older protobuf)
    # once lost finished runs; metadata lookups that fail read "unknown".
    with mock.patch.object(training.importlib.metadata, "version", side_effect=RuntimeError("broken")):
      versions = training.library_versions()
    self.assertEqual(versions["tensorflow_datasets"], "unknown")
    self.assertEqual(versions["tfmixup"], tfmixup.__version__)
    with mock.patch.object(training.subprocess, "run", side_effect=OSError("no git")):
      self.assertIsNone(training.git_commit())
    with mock.patch.object(training, "git_commit", side_effect=RuntimeError("odd git")):
      with mock.patch.object(training.platform, "python_version", side_effect=RuntimeError("odd")):
        versions = training.library_versions()
    self.assertIsNone(versions["git_commit"])
    self.assertEqual(versions["python"], "unknown")

  def test_jit_auto_follows_the_backend(self):
    expected = keras.backend.backend() == "jax" or bool(tf.config.list_physical_devices("GPU"))
    self.assertEqual(training.resolve_jit_compile("auto"), expected)
    self.assertTrue(training.resolve_jit_compile("true"))
    self.assertFalse(training.resolve_jit_compile("false"))

  @pytest.mark.slow
  def test_device_feed_trains_on_the_same_batches(self):
    # The same run through the device feed: the same batches, so the same
    # losses and accuracies (exactly with TensorFlow on a CPU). The JSON
    # says which feed and backend ran.
    runs = {}
    for feed in ("host", "device"):
      config = TrainConfig(method="mixup", feed=feed, **SMALL)
      runs[feed] = training.train(config, self.create_tempdir().full_path, data=self.data, verbose=0)
      self.assertEqual(runs[feed]["feed"], feed)
      self.assertEqual(runs[feed]["backend"], keras.backend.backend())
      self.assertEqual(runs[feed]["jit_compile"], training.resolve_jit_compile("auto"))
      self.assertNotEmpty(runs[feed]["devices"])
      self.assertLen(runs[feed]["history"]["test_accuracy"], 2)
    exact = keras.backend.backend() == "tensorflow" and not training.resolve_jit_compile("auto")
    tolerance = 0 if exact else 2e-3
    for key in ("train_accuracy", "test_accuracy"):
      self.assertAllClose(runs["device"][key], runs["host"][key], atol=tolerance + (0 if exact else 5e-3))
    self.assertAllClose(runs["device"]["history"]["loss"], runs["host"]["history"]["loss"], atol=tolerance)
    self.assertGreater(runs["device"]["test_accuracy"], 0.8)

  @parameterized.named_parameters(
    ("cpu_auto", False, "mixup", "auto", "host"),
    ("gpu_auto", True, "mixup", "auto", "device"),
    ("gpu_auto_pairs", True, "pair_sampling", "auto", "device"),
    ("gpu_auto_erm", True, "erm", "auto", "device"),
    ("gpu_auto_cutmix", True, "cutmix", "auto", "device"),
    ("gpu_auto_resizemix", True, "resizemix", "auto", "host"),  # (no device feed)
    ("gpu_host", True, "mixup", "host", "host"),
    ("cpu_device", False, "mixup", "device", "device"),
  )
  def test_feed_choice(self, accelerated, method, feed, expected):
    info = backend.BackendInfo(name="jax", devices=("x",), accelerated=accelerated)
    self.assertEqual(training.resolve_feed(TrainConfig(method=method, feed=feed), info), expected)
    # With several workers or devices, "auto" keeps the stage (the device feed does not shard).
    several = training.resolve_feed(TrainConfig(method=method, feed=feed), info, num_workers=2)
    self.assertEqual(several, "host" if feed == "auto" else feed)


class SizesTest(tf.test.TestCase):
  def test_a_size_beyond_the_data_is_said_in_one_line(self):
    full = training.SplitData(train=coded_arrays(30, num_classes=3), test=coded_arrays(12, num_classes=3))
    config = TrainConfig(train_size=100_000, test_size=5, data_dir="x")
    with contextlib.redirect_stderr(io.StringIO()) as err:
      data = training.data_for(config, full)
    self.assertEqual((len(data.train), len(data.test)), (30, 5))
    self.assertEqual(err.getvalue(), "tfmixup: train_size=100000, but the training split has 30 images: using all 30\n")
    with contextlib.redirect_stderr(io.StringIO()) as err:
      training.data_for(TrainConfig(train_per_class=11, test_size=20), full)
    lines = err.getvalue().splitlines()
    self.assertEqual(lines[0], "tfmixup: train_per_class=11, but a class has only 10 training images")
    self.assertEqual(lines[1], "tfmixup: test_size=20, but the test split has 12 images: using all 12")
    with contextlib.redirect_stderr(io.StringIO()) as err:
      training.data_for(TrainConfig(train_size=30, train_per_class=10), full)
    self.assertEqual(err.getvalue(), "")
