"""Every mutant of `tools/mutants.py` still applies to the code.

A mutant whose anchor text no longer occurs (the code was reworded) would
stop the mutant run with an error, or worse, be dropped by whoever edits the
list: a silent hole in the evidence that the tests catch those faults. This
checks each anchor occurs in its file, and that the mutant changes the text
and names tests that exist.
"""

import importlib.util
import os

import tensorflow as tf

import tfmixup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The code the tests run: the checkout's tfmixup/, or the installed package's (CI tests the wheel too).
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tfmixup.__file__)))


def _mutants_module():
  spec = importlib.util.spec_from_file_location("mutants", os.path.join(ROOT, "tools", "mutants.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class MutantsApplyTest(tf.test.TestCase):
  def test_every_anchor_is_in_its_file(self):
    mutants = _mutants_module()
    self.assertNotEmpty(mutants.MUTANTS)
    for name, (_, edits) in mutants.MUTANTS.items():
      self.assertNotEmpty(edits, msg=name)
      for path, old, new in edits:
        with open(os.path.join(CODE_ROOT, path)) as f:
          text = f.read()
        self.assertIn(old, text, msg=f"mutant {name}: {path} no longer contains its anchor")
        self.assertNotEqual(old, new, msg=name)

  def test_the_tests_a_mutant_names_exist(self):
    mutants = _mutants_module()
    for name, tests in {**mutants.MUTANT_TESTS, "default": mutants.DEFAULT_TESTS}.items():
      for test in tests:
        path = test.split("::")[0]
        self.assertTrue(os.path.exists(os.path.join(ROOT, path)), msg=f"{name}: {path}")
        for part in test.split("::")[1:2]:
          with open(os.path.join(ROOT, path)) as f:
            self.assertIn(f"class {part}", f.read(), msg=f"{name}: {test}")
