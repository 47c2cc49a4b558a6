"""A run's identity and its files: one config's results, model and checkpoints never another's.

Also: results saved by tfmixup 0.2.0-0.5.0 (named by `run_name` alone) are
still found, as the committed `results/` grids need.
"""

import contextlib
import dataclasses
import glob
import json
import os
from unittest import mock

import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR

from tfmixup import checkpoints, training
from tfmixup.config import TrainConfig
from tfmixup.study import regimes, science

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = TrainConfig(classes=(4, 7), data_dir=MNIST_DIR, epochs=1, train_size=128, test_size=64, batch_size=64)


def _write_result(path: str, config: TrainConfig, version: str = "0.5.0", **fields) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    json.dump({"config": config.to_dict(), "test_accuracy": 0.5, "versions": {"tfmixup": version}, **fields}, f)


class RunIdTest(tf.test.TestCase):
  def test_every_field_changes_the_id(self):
    changes = dict(
      epochs=2,
      train_size=100,
      batch_size=64,
      learning_rate=3e-4,
      data_dir="d",
      feed="host",
      steps_per_execution=2,
      jit_compile="false",
      download=True,
      test_size=10,
    )
    base = TrainConfig()
    ids = {base.run_id} | {dataclasses.replace(base, **{k: v}).run_id for k, v in changes.items()}
    self.assertLen(ids, len(changes) + 1)
    # Readable name first, then the hash; equal configs (numbers of either type) share it.
    self.assertEqual(TrainConfig(epochs=2).run_id, "mnist-all-erm-seed0-e2826b0417")
    self.assertEqual(TrainConfig(alpha=2, method="mixup").run_id, TrainConfig(alpha=2.0, method="mixup").run_id)

  def test_a_new_field_at_its_default_keeps_every_id(self):
    # A field added later is hashed only away from its default (a tuple default too: `to_dict` lists it).
    newer = dataclasses.make_dataclass(
      "Newer",
      [("future_pairs", tuple, dataclasses.field(default=())), ("future_knob", int | None, None)],
      bases=(TrainConfig,),
      frozen=True,
    )
    for kwargs in ({}, {"epochs": 3, "method": "mixup"}, {"classes": (6, 8, 9), "data_dir": "x"}):
      self.assertEqual(newer(**kwargs).run_id, TrainConfig(**kwargs).run_id)
    self.assertNotEqual(newer(future_knob=3).config_hash, TrainConfig().config_hash)
    # exclude_pairs, added after 0.5.0, changes the id only when set.
    self.assertNotEqual(
      TrainConfig(method="mixup", exclude_pairs=((6, 9),)).config_hash, TrainConfig(method="mixup").config_hash
    )


class CommittedResultsTest(tf.test.TestCase):
  def test_every_saved_result_is_found_by_its_config(self):
    paths = glob.glob(os.path.join(ROOT, "results", "**", "runs", "*.json"), recursive=True)
    self.assertGreater(len(paths), 500)
    with contextlib.chdir(ROOT):  # teacher paths in the configs are relative to the repository
      for path in paths:
        with open(path) as f:
          config = TrainConfig.from_dict(json.load(f)["config"])
        output_dir = os.path.dirname(os.path.dirname(path))
        self.assertEqual(training.result_path(output_dir, config), path)
        self.assertIsNotNone(training.read_result(output_dir, config), msg=path)
        model = os.path.join(output_dir, "models", os.path.basename(path)[: -len(".json")] + ".keras")
        self.assertEqual(training.model_path(output_dir, config), model)

  def test_science_grid_configs_and_teacher_paths_are_unchanged(self):
    # The session grid as README runs it: every job's config, filter teachers included, finds its saved run,
    # so the teachers' model paths (part of the filter runs' configs) are the legacy ones.
    preset, base, root = regimes.PRESETS["session"], TrainConfig(data_dir="../shared/mnist"), "results/science"
    with contextlib.chdir(ROOT):
      chosen = science.choices(preset, base, root)
      jobs = science.causal_jobs(preset, base, root, worst=chosen["worst"])
      filtered = [j for j in jobs if j.config.method in regimes.FILTER_METHODS]
      self.assertNotEmpty(filtered)
      for job in jobs:
        self.assertIsNotNone(training.read_result(job.output_dir(root), job.config), msg=job.config.run_name)
      for job in filtered:
        teacher = science.teacher_job(preset, job.regime, base, job.config.subset)
        legacy = os.path.join(root, "regimes", job.regime, "models", f"{teacher.config.run_name}.keras")
        self.assertEqual(job.config.teacher, legacy)
        self.assertEqual(training.model_path(teacher.output_dir(root), teacher.config), legacy)


class LegacyNamesTest(tf.test.TestCase):
  def test_legacy_file_is_found_and_another_config_gets_its_own(self):
    out = self.create_tempdir().full_path
    old, new = TINY, dataclasses.replace(TINY, epochs=2)  # same run_name
    legacy = os.path.join(out, "runs", f"{old.run_name}.json")
    _write_result(legacy, old)
    self.assertEqual(training.result_path(out, old), legacy)
    self.assertEqual(training.model_path(out, old), os.path.join(out, "models", f"{old.run_name}.keras"))
    self.assertIsNotNone(training.read_result(out, old))
    self.assertIsNone(training.read_result(out, new))
    self.assertEqual(training.result_path(out, new), os.path.join(out, "runs", f"{new.run_id}.json"))
    self.assertEqual(training.model_path(out, new), os.path.join(out, "models", f"{new.run_id}.keras"))
    training.check_not_taken(out, new)  # its own file: nothing to refuse
    # Saved before 0.2.0: still named legacy (same config), but not reused.
    _write_result(legacy, old, version="0.1.0")
    self.assertEqual(training.result_path(out, old), legacy)
    self.assertIsNone(training.read_result(out, old))

  def test_a_file_holding_another_config_is_refused_before_training(self):
    out = self.create_tempdir().full_path
    other = dataclasses.replace(TINY, epochs=5)
    _write_result(os.path.join(out, "runs", f"{TINY.run_id}.json"), other)  # as a hash collision would
    with mock.patch.object(training, "_train", side_effect=AssertionError("trained")):
      with self.assertRaisesRegex(training.OutputDirError, r"holds the result of another config; not replacing it"):
        training.train(TINY, out, verbose=0)


@pytest.mark.real_data
class SecondConfigTest(tf.test.TestCase, parameterized.TestCase):
  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data = training.load_data(TINY)

  @pytest.mark.slow
  def test_second_config_does_not_replace_the_first(self):
    out = self.create_tempdir().full_path
    one = training.train(TINY, out, data=self.data, verbose=0, tensorboard=False)
    two = training.train(dataclasses.replace(TINY, epochs=2), out, data=self.data, verbose=0, tensorboard=False)
    self.assertLen(os.listdir(os.path.join(out, "runs")), 2)
    self.assertEqual(training.read_result(out, TINY), one)
    self.assertLen(training.read_result(out, dataclasses.replace(TINY, epochs=2))["history"]["loss"], 2)
    self.assertLen(two["history"]["loss"], 2)

  # As in test_checkpoints: the checkpoint's model never trained (optimizer unbuilt), so Keras warns
  # that it skips the optimizer's state when it is restored. Expected here.
  @pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer:UserWarning")
  def test_another_config_cannot_take_over_interrupted_checkpoints(self):
    out = self.create_tempdir().full_path
    interrupted = dataclasses.replace(TINY, epochs=3)
    model = training.compile_model(interrupted, self.data.train.images.shape[1:], self.data.train.num_classes)
    saved = checkpoints.RunCheckpoint(training.checkpoint_dir(out, interrupted), interrupted.to_dict())
    saved.save(model, 1, {"loss": [0.5], "test_accuracy": [0.5]})
    training.train(TINY, out, data=self.data, verbose=0, tensorboard=False)  # same run_name, another config
    fresh = training.compile_model(interrupted, self.data.train.images.shape[1:], self.data.train.num_classes)
    kept = checkpoints.RunCheckpoint(training.checkpoint_dir(out, interrupted), interrupted.to_dict())
    restored = kept.restore(fresh)
    self.assertIsNotNone(restored)
    self.assertEqual(restored.epoch, 1)
    self.assertAllClose(fresh.get_weights(), model.get_weights())

  @parameterized.parameters("runs", "checkpoints", "locks", "models", "tensorboard")
  def test_unwritable_run_folder_fails_before_training(self, name):
    out = self.create_tempdir().full_path
    with open(os.path.join(out, name), "w") as f:
      f.write("not a folder")
    with mock.patch.object(training, "_train", side_effect=AssertionError("trained")):
      with self.assertRaisesRegex(
        training.OutputDirError, rf"^output directory .*{name}' exists and is not a directory"
      ):
        training.train(TINY, out, data=self.data, verbose=0, save_model=True)


if __name__ == "__main__":
  tf.test.main()
