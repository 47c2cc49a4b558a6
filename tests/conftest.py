"""pytest setup: quiet TensorFlow, and no phantom skips."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))  # for `helpers`


def pytest_collection_modifyitems(config, items):
  # tf.test.TestCase defines a deprecated `test_session` method that pytest
  # collects and reports as skipped; drop it so every skip means something.
  del config
  items[:] = [item for item in items if item.name != "test_session"]


def pytest_configure(config):
  # absl.testing's create_tempdir reads flags, which pytest never parses.
  del config
  from absl import flags  # noqa: PLC0415

  flags.FLAGS.mark_as_parsed()
