"""A quiet start: TensorFlow's known start-up lines are dropped from file descriptor 2, nothing else."""

import os
import tempfile
from unittest import mock

import tensorflow as tf

from tfmixup import startup

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
