"""Every Python example in the docs and the README runs, so the docs cannot drift from the code.

Each page's ```python blocks run in order as one script, in a fresh process, in an empty folder, with
TensorFlow Datasets pointed at the prepared copy in ../shared/tfds (TFDS_DATA_DIR), as a user with
internet would run them after TFDS downloaded MNIST.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import MNIST_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFDS_DIR = os.path.join(os.path.dirname(MNIST_DIR), "tfds")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(
  os.path.relpath(p, ROOT)
  for p in [*glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True), os.path.join(ROOT, "README.md")]
)
WITH_CODE = [page for page in PAGES if BLOCK.search(open(os.path.join(ROOT, page), encoding="utf-8").read())]


def blocks(page: str) -> list[str]:
  with open(os.path.join(ROOT, page), encoding="utf-8") as f:
    return BLOCK.findall(f.read())


class DocsTest(tf.test.TestCase):
  def test_the_pages_with_examples_are_found(self):
    # A renamed fence or a moved page would silently drop examples from the run below.
    for page in (
      "README.md",
      "docs/index.md",
      "docs/guides/choosing.md",
      "docs/guides/custom.md",
      "docs/guides/data.md",
    ):
      self.assertIn(page, WITH_CODE)
    self.assertTrue(os.path.isdir(os.path.join(TFDS_DIR, "mnist")), msg=f"{TFDS_DIR} is missing")


@pytest.mark.slow  # (a mark above @parameterized is lost when absl generates the cases: mark the class)
class ExamplesTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(*WITH_CODE)
  def test_examples_run(self, page):
    script = "\n\n".join(blocks(page))
    with tempfile.TemporaryDirectory() as folder:
      proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, "TFDS_DATA_DIR": TFDS_DIR, "PYTHONPATH": ROOT},
      )
    self.assertEqual(proc.returncode, 0, msg=f"{page}:\n{script}\n{proc.stderr[-4000:]}")


if __name__ == "__main__":
  tf.test.main()
