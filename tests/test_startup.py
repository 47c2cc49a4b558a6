"""A quiet start: TensorFlow's known start-up lines are dropped from file descriptor 2, nothing else.

Every command (train_main.py, reproduce_main.py, science_main.py) parses its flags without TensorFlow, so the
quiet import after parsing is the first; asking for help exits 0.
"""

import os
import subprocess
import sys
import tempfile
from unittest import mock

import pytest
import tensorflow as tf
from absl.testing import parameterized

from tfmixup import startup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each command: its script, its app module, a flag of its own, and a bad value of it (rejected while parsing).
COMMANDS = (
  ("train", "train_main.py", "tfmixup.train_app", "--method_args", "--seed=-1"),
  ("reproduce", "reproduce_main.py", "tfmixup.study.reproduce", "--shard", "--shard=1/1"),
  ("science", "science_main.py", "tfmixup.study.science_app", "--shard", "--shard=1/1"),
)

# As TensorFlow 2.x printed them on this machine (train_main.py, TF_CPP_MIN_LOG_LEVEL=2).
NOISE = (
  b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
  b"I0000 00:00:1796596837.916920    3836 cudart_stub.cc:31] Could not find cuda drivers on your machine,"
  b" GPU will not be used.\n"
  b"I0000 00:00:1796596886.297077    4291 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use"
  b" available CPU instructions in performance-critical operations.\n"
  b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate"
  b" compiler flags.\n"
  b"E0000 00:00:1796596841.375075    3836 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed"
  b" call to cuInit: UNKNOWN ERROR (303)\n"
)
KEPT = b"E0000 00:00:1796596841.375075    3836 op_kernel.cc:1857] a real error\ntfmixup: a notice\nno newline"


class FilteredStderrTest(tf.test.TestCase):
  def test_drops_the_start_up_lines_and_keeps_the_rest(self):
    with tempfile.TemporaryFile() as sink:
      saved = os.dup(2)
      os.dup2(sink.fileno(), 2)
      try:
        with startup.filtered_stderr(startup.NOISE):
          os.write(2, NOISE[:50])  # a line in pieces, as C++ may write it
          os.write(2, NOISE[50:] + KEPT)
      finally:
        os.dup2(saved, 2)
        os.close(saved)
      sink.seek(0)
      self.assertEqual(sink.read(), KEPT)

  def test_asking_for_the_lines(self):
    for value, want in (("", False), ("0", False), ("1", True), ("yes", True)):
      with mock.patch.dict(os.environ, {startup.VERBOSE_ENV: value}):
        self.assertEqual(startup.wants_tensorflow_logs(), want)
    with mock.patch.dict(os.environ, {startup.VERBOSE_ENV: ""}):
      self.assertTrue(startup.wants_tensorflow_logs(verbosity=1))
      self.assertFalse(startup.wants_tensorflow_logs(verbosity=0))


def run_command(script, *args):
  return subprocess.run(
    [sys.executable, os.path.join(ROOT, script), *args],
    capture_output=True,
    check=False,
    text=True,
    timeout=300,
    cwd=ROOT,
    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},  # the level of the report (the noise came anyway)
  )


class QuietCommandsTest(tf.test.TestCase, parameterized.TestCase):
  def assertNoStartUpLines(self, stderr):
    self.assertEqual([line for line in stderr.splitlines() if startup.NOISE.match(line)], [], msg=stderr)

  @parameterized.named_parameters(*COMMANDS)
  def test_flags_are_parsed_and_checked_without_tensorflow(self, script, module, own_flag, bad_flag):
    # absl runs the validators (e.g. --shard's) while parsing, before the command imports TensorFlow quietly.
    del script, own_flag, bad_flag
    code = (
      f"import sys; from absl import flags; import {module}\n"
      "flags.FLAGS(['command', '--output_dir=out'])\n"
      "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    self.assertEqual(proc.stdout.splitlines(), ["[]"])

  @parameterized.named_parameters(*COMMANDS)
  def test_help_exits_zero_and_lists_the_command_flags(self, script, module, own_flag, bad_flag):
    del module, bad_flag
    proc = run_command(script, "--help")
    self.assertEqual(proc.returncode, 0, msg=proc.stderr)
    self.assertEqual(proc.stderr, "")
    full = run_command(script, "--helpfull")
    self.assertEqual(full.returncode, 0, msg=full.stderr)
    self.assertIn(own_flag, full.stdout)

  @parameterized.named_parameters(*COMMANDS)
  def test_a_bad_flag_is_one_line_without_start_up_lines(self, script, module, own_flag, bad_flag):
    del module, own_flag
    proc = run_command(script, bad_flag)
    self.assertNotEqual(proc.returncode, 0)
    self.assertNoStartUpLines(proc.stderr)
    self.assertRegex(proc.stderr.splitlines()[0], rf"^(FATAL Flags parsing error: flag {bad_flag}|{script}: error)")

  @pytest.mark.slow
  def test_science_report_only_starts_quietly(self):
    # After parsing, the study command imports TensorFlow (and lists devices) through `startup`.
    out = self.create_tempdir().full_path
    proc = run_command("science_main.py", "--report_only", "--preset=ci", f"--output_dir={out}")
    self.assertNotEqual(proc.returncode, 0)
    self.assertNoStartUpLines(proc.stderr)
    self.assertRegex(proc.stderr, r"^science_main.py: error: no saved run .* run the grid first\n$")
