"""train_main.py as a user runs it: bad input gets a one-line error and a non-zero exit."""

import glob
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR, write_idx_dir

from tfmixup import training
from tfmixup.config import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = (f"--data_dir={MNIST_DIR}", "--train_size=64")  # where the old code trained: briefly


def run_main(*args, cwd=None, env=None):
  return subprocess.run(
    [sys.executable, os.path.join(ROOT, "train_main.py"), *args],
    capture_output=True,
    check=False,
    text=True,
    timeout=300,
    cwd=cwd or ROOT,
    env={**os.environ, **(env or {})},
  )


class BadInputTest(tf.test.TestCase, parameterized.TestCase):
  def assertOneLineError(self, proc, message):
    self.assertNotEqual(proc.returncode, 0, msg=proc.stdout + proc.stderr)
    self.assertNotIn("Traceback", proc.stderr)
    # The program's own error is one line. (absl adds a --help hint.)
    errors = [line for line in proc.stderr.splitlines() if line.startswith(("train_main.py: error", "FATAL"))]
    self.assertLen(errors, 1, msg=proc.stderr)
    self.assertRegex(errors[0], message)

  @parameterized.named_parameters(
    ("unknown_digit", ["--subset=6x9"], "subset must be 'all' or digits"),
    ("repeated_digit", ["--subset=668"], r"repeats digit\(s\) \[6\]"),
    ("one_class", ["--subset=6"], "has one class"),
    ("alpha_zero", ["--alpha=0"], "alpha.*must be finite and > 0"),
    ("alpha_negative", ["--alpha=-1"], "alpha.*must be finite and > 0"),
    ("alpha_nan", ["--alpha=nan"], "alpha.*must be finite and > 0"),
    ("both_methods", ["--mixup", "--pair_sampling"], "exclude each other"),
    ("zero_epochs", ["--epochs=0"], "epochs must be a positive integer, got 0"),
    ("zero_batch", ["--batch_size=0"], "batch_size must be a positive integer, got 0"),
    ("bad_jit", ["--jit_compile=maybe"], "--jit_compile=maybe: value should be one of <auto|true|false>"),
    ("stray_argument", ["extra"], "unexpected arguments"),
    ("unknown_method", ["--method=no_such_method"], r"unknown method 'no_such_method'; choose one of: .*cutmix.*erm"),
    ("method_and_mixup", ["--method=cutmix", "--mixup"], "exclude each other"),
    ("prob_above_one", ["--prob=1.5"], "prob.*probability in"),
    ("switch_prob_negative", ["--switch_prob=-0.1"], "switch_prob.*probability in"),
    ("label_smoothing_one", ["--label_smoothing=1"], r"label_smoothing must be a number in \[0, 1\)"),
    ("cutmix_alpha_zero", ["--cutmix_alpha=0"], "cutmix_alpha.*finite and > 0"),
    ("off_last_too_long", ["--mixup", "--epochs=3", "--off_last=4"], "off_last=4 is more than the 3 epochs"),
    ("mix_off_alone", ["--mixup", "--mix_off=2"], "mix_off=2 needs mix_on"),
    ("schedule_without_mixing", ["--off_last=1"], "need a mixing method, not 'erm'"),
    ("negative_mix_start", ["--mix_start=-1"], "mix_start must be an integer >= 0, got -1"),
    ("bad_feed", ["--feed=gpu"], "--feed=gpu: value should be one of <auto|host|device>"),
    ("resizemix_device_feed", ["--method=resizemix", "--feed=device"], "method 'resizemix' has no device feed"),
    ("zero_steps", ["--steps_per_execution=0"], "steps_per_execution must be a positive integer, got 0"),
    ("negative_seed", ["--seed=-1"], r"seed must be an integer in \[0, 2\*\*32 - 1\]"),
    ("seeds_past_the_range", [*QUICK, "--seed=4294967295", "--runs=2"], r"got 4294967296$"),
    ("never_mixes", ["--mixup", "--epochs=2", "--mix_start=2", *QUICK], "the schedule never mixes: mix_start=2"),
    ("method_args_not_pairs", ["--method=resizemix", "--method_args=scale_min"], "method_args must be knob=value"),
    ("method_args_unknown", ["--mixup", "--method_args=zoom=2"], r"method 'mixup' has no knob zoom; its knobs are"),
    ("method_args_none", ["--method_args=alpha=0.5"], "method 'erm' has no knob alpha; it has none"),
    (
      "method_args_range",
      ["--method=resizemix", "--method_args=scale_min=0.9,scale_max=0.5"],
      r"ResizeMix needs 0 < scale_min <= scale_max <= 1, got 0.9, 0.5",
    ),
    ("method_args_twice", ["--method=cutmix", "--alpha=0.3", "--method_args=alpha=0.5"], "give one"),
    (
      "off_every_epoch",
      ["--mixup", "--epochs=2", "--off_last=2", *QUICK],
      "the schedule never mixes: mix_start=0 and off_last=2",
    ),
  )
  def test_bad_flags(self, args, message):
    self.assertOneLineError(run_main(*args), message)

  def test_help_exits_zero_and_lists_every_config_flag(self):
    proc = run_main("--help")
    self.assertEqual(proc.returncode, 0, msg=proc.stderr)
    self.assertIn("--helpfull", proc.stdout)
    full = run_main("--helpfull")
    self.assertEqual(full.returncode, 0, msg=full.stderr)
    for flag in ("--method_args", "--exclude_pairs", "--subset", "--test_size", "--runs", "--output_dir"):
      self.assertIn(flag, full.stdout)

  @pytest.mark.slow
  def test_data_dir_without_data(self):
    empty = self.create_tempdir().full_path
    self.assertOneLineError(run_main(f"--data_dir={empty}"), "holds neither the four IDX files")
    missing = os.path.join(empty, "missing")
    self.assertOneLineError(run_main(f"--data_dir={missing}"), "is not a directory")

  @pytest.mark.slow
  def test_truncated_and_corrupt_idx(self):
    directory = self.create_tempdir().full_path
    write_idx_dir(directory, train=50, test=10, gz=False)
    path = os.path.join(directory, "train-images-idx3-ubyte")
    with open(path, "r+b") as f:
      f.truncate(1000)
    self.assertOneLineError(run_main(f"--data_dir={directory}"), "truncated: header says shape")
    os.remove(path)
    with open(path + ".gz", "wb") as f:
      f.write(gzip.compress(b"not an idx file at all"))
    self.assertOneLineError(run_main(f"--data_dir={directory}"), "magic number")

  @pytest.mark.slow
  def test_output_dir_that_is_a_file_fails_before_training(self):
    # Checked before any data is loaded or model trained (0.1.0 trained the
    # whole run, then died in TensorBoard's writer).
    path = os.path.join(self.create_tempdir().full_path, "a_file")
    with open(path, "w") as f:
      f.write("x")
    proc = run_main(f"--output_dir={path}", f"--data_dir={MNIST_DIR}", "--subset=689")
    self.assertOneLineError(proc, "exists and is not a directory")
    self.assertNotIn("Epoch 1", proc.stdout + proc.stderr)

  @pytest.mark.slow
  def test_malformed_tf_config_for_workers(self):
    proc = run_main(
      "--subset=689", f"--data_dir={MNIST_DIR}", "--runs=1", "--train_size=100", env={"TF_CONFIG": '{"cluster": 1'}
    )
    self.assertOneLineError(proc, r"TF_CONFIG is not valid JSON")

  @pytest.mark.slow
  def test_report_only_without_runs(self):
    out = self.create_tempdir().full_path
    proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, "reproduce_main.py"), "--report_only", f"--output_dir={out}"],
      capture_output=True,
      check=False,
      text=True,
      timeout=300,
    )
    self.assertNotEqual(proc.returncode, 0)
    self.assertNotIn("Traceback", proc.stderr)
    # One line and nothing else: no TensorFlow start-up lines (conftest sets TF_CPP_MIN_LOG_LEVEL=2).
    self.assertRegex(
      proc.stderr, r"^reproduce_main.py: error: 65 of 65 runs have no saved result .*train the grid first\n$"
    )

  @pytest.mark.slow
  def test_report_only_without_models(self):
    # The committed runs (saved by 0.2.0, before the method options existed)
    # are all found; the intrusion models are not in git: one line says so.
    out = self.create_tempdir().full_path
    shutil.copytree(os.path.join(ROOT, "results", "runs"), os.path.join(out, "runs"))
    proc = subprocess.run(
      # The grid's command as README gives it (data_dir is part of each saved config).
      [sys.executable, "reproduce_main.py", "--report_only", "--data_dir=../shared/mnist", f"--output_dir={out}"],
      capture_output=True,
      check=False,
      text=True,
      timeout=300,
      cwd=ROOT,
    )
    self.assertNotEqual(proc.returncode, 0)
    self.assertNotIn("Traceback", proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("reproduce_main.py: error")]
    self.assertLen(errors, 1, msg=proc.stderr)
    self.assertRegex(errors[0], r"(\d+) of \1 ERM models for the intrusion measurement are not in .*--report_only")


def wait_for(pattern, proc, timeout=120):
  """Polls until a file matching `pattern` exists (or fails if `proc` ends first)."""
  deadline = time.time() + timeout
  while not glob.glob(pattern):
    if proc.poll() is not None or time.time() > deadline:
      raise AssertionError(f"{pattern} never appeared: {proc.communicate()[1][-3000:]}")
    time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.real_data
class InterruptedRunTest(tf.test.TestCase):
  def test_sigterm_then_kill_9_in_epoch_3_resumes_exactly(self):
    args = ["--subset=689", "--mixup", f"--data_dir={MNIST_DIR}", "--runs=1", "--epochs=4", "--train_size=800"]
    whole_dir, out = self.create_tempdir().full_path, self.create_tempdir().full_path
    # The uninterrupted run, in-process: the same config as the flags give.
    config = TrainConfig(classes=(6, 8, 9), method="mixup", data_dir=MNIST_DIR, epochs=4, train_size=800)
    training.train(config, whole_dir, verbose=0)
    command = [sys.executable, os.path.join(ROOT, "train_main.py"), *args, f"--output_dir={out}"]

    def start():
      return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # SIGTERM in epoch 2: stops after the step, the state of epoch 1 saved, one line, non-zero exit.
    proc = start()
    wait_for(os.path.join(out, "checkpoints", "*", "epoch-0001.json"), proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    self.assertEqual(proc.returncode, 128 + signal.SIGTERM, msg=stderr[-3000:])
    self.assertNotIn("Traceback", stderr)
    lines = [line for line in stderr.splitlines() if line.startswith("train_main.py:")]
    self.assertLen(lines, 1, msg=stderr)
    self.assertRegex(
      lines[0],
      r"^train_main.py: stopped by SIGTERM after (\d) of 4 epochs \(state saved\);"
      r" run the same command again to resume from epoch \d$",
    )
    # kill -9 in epoch 3 (epoch 2's checkpoint written), then the same command again.
    proc = start()
    wait_for(os.path.join(out, "checkpoints", "*", "epoch-0002.json"), proc)
    proc.kill()
    proc.communicate(timeout=60)
    self.assertEqual(os.listdir(os.path.join(out, "runs")) if os.path.isdir(os.path.join(out, "runs")) else [], [])
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    self.assertEqual(again.returncode, 0, msg=again.stderr[-3000:])
    epochs = [line.split()[1] for line in (again.stdout + again.stderr).splitlines() if line.startswith("Epoch ")]
    self.assertEqual(epochs, ["3/4", "4/4"])
    [name] = os.listdir(os.path.join(whole_dir, "runs"))
    results = []
    for directory in (whole_dir, out):
      with open(os.path.join(directory, "runs", name)) as f:
        results.append(json.load(f))
    differ = sorted(k for k in results[0] if results[0][k] != results[1][k])
    self.assertEqual(differ, ["wall_time_s"])
    self.assertEqual(os.listdir(os.path.join(out, "checkpoints")), [])  # removed once the run is saved


@pytest.mark.real_data
class MainRunTest(tf.test.TestCase):
  def test_prints_the_table_and_writes_results(self):
    self.assertTrue(os.path.isdir(MNIST_DIR), f"real MNIST expected at {MNIST_DIR}")
    out = self.create_tempdir().full_path
    proc = run_main(
      "--subset=689",
      "--mixup",
      f"--data_dir={MNIST_DIR}",
      f"--output_dir={out}",
      "--runs=2",
      "--epochs=1",
      "--train_size=2000",
    )
    self.assertEqual(proc.returncode, 0, msg=proc.stderr[-3000:])
    for noise in ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard", "oneDNN"):
      self.assertNotIn(noise, proc.stderr)  # TensorFlow's start-up lines (even at TF_CPP_MIN_LOG_LEVEL=2, conftest)
    self.assertIn("| | {6,8,9} |", proc.stdout)
    self.assertRegex(proc.stdout, r"\| Mixup \| \d+\.\d ± \d+\.\d% \(\d+\.\d ± \d+\.\d%\) \|")
    self.assertLen(os.listdir(os.path.join(out, "runs")), 2)
    shutil.rmtree(out)

  @pytest.mark.slow
  def test_jax_backend_compiles_and_says_so(self):
    # Under JAX, "auto" compiles (un-jitted JAX ran 20x slower per step on a
    # GPU), and the run JSON names the backend and its devices. Here too
    # with the device feed, which the CPU gets only when asked for; and the
    # epoch loop (--loop=epoch, issue 21) gives the same run to float rounding.
    out = self.create_tempdir().full_path
    env = dict(os.environ, KERAS_BACKEND="jax")
    results = {}
    for loop in ("fit", "epoch"):
      proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train_main.py"), "--subset=689", "--mixup", f"--data_dir={MNIST_DIR}",
         f"--output_dir={out}", "--runs=1", "--epochs=1", "--train_size=1000", "--feed=device", f"--loop={loop}"],
        capture_output=True, check=False, text=True, timeout=300, cwd=ROOT, env=env,
      )  # fmt: skip
      self.assertEqual(proc.returncode, 0, msg=proc.stderr[-3000:])
      (name,) = [n for n in os.listdir(os.path.join(out, "runs")) if n not in {r["file"] for r in results.values()}]
      with open(os.path.join(out, "runs", name)) as f:
        results[loop] = {**json.load(f), "file": name}
    result = results["fit"]
    self.assertEqual(result["backend"], "jax")
    self.assertIs(result["jit_compile"], True)
    self.assertEqual(result["feed"], "device")
    self.assertNotEmpty(result["devices"])
    self.assertTrue(all(d.startswith(("cpu", "TFRT_CPU")) for d in result["devices"]), result["devices"])
    self.assertGreater(result["test_accuracy"], 0.6)  # chance: 1/3 (1,000 images, one epoch)
    loop = results["epoch"]
    self.assertEqual((result["loop"], loop["loop"], loop["feed"]), ("fit", "epoch", "device"))
    self.assertAllClose(loop["history"]["loss"], result["history"]["loss"], rtol=1e-5, atol=0)  # test_epoch_loop.py
    tested = result["test_examples"]
    self.assertAllClose(loop["test_accuracy"], result["test_accuracy"], rtol=0, atol=1.5 / tested)
    self.assertEqual(loop["optimizer_steps"], result["optimizer_steps"])

  @pytest.mark.slow
  def test_a_short_form_with_options_trains(self):
    # The study's short form and the schedule and smoothing flags, end to end;
    # the table's row is the method's label. (Every method trains in-process
    # in test_training.py.)
    out = self.create_tempdir().full_path
    proc = run_main(
      "--subset=147", "--pair_sampling", "--label_smoothing=0.1", "--off_last=1", "--epochs=2",
      f"--data_dir={MNIST_DIR}", f"--output_dir={out}", "--runs=1", "--train_size=1000",
    )  # fmt: skip
    self.assertEqual(proc.returncode, 0, msg=proc.stderr[-3000:])
    self.assertIn("| | {1,4,7} |", proc.stdout)
    self.assertRegex(proc.stdout, r"\| pair sampling \| \d+\.\d% \(\d+\.\d%\) \|")
    shutil.rmtree(out)
