"""The reproduction, cut down (tiny subsample, 1 epoch, 2 seeds) through the same command."""

import csv
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
from helpers import MNIST_DIR
from matplotlib import image as mpimg

from tfmixup.study import statistics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PairedDifferenceTest(tf.test.TestCase):
  def test_paired_by_seed_with_t_interval(self):
    control = [{"config": {"seed": s}, "test_accuracy": a} for s, a in [(0, 0.90), (1, 0.80), (2, 0.85)]]
    treated = [{"config": {"seed": s}, "test_accuracy": a} for s, a in [(2, 0.86), (0, 0.92), (1, 0.80)]]
    d = statistics.paired(treated, control)
    diffs = np.array([0.02, 0.0, 0.01])
    self.assertAlmostEqual(d["mean"], 0.01)
    half = 4.302652729911275 * np.std(diffs, ddof=1) / np.sqrt(3)  # t(0.975, 2 df)
    self.assertAlmostEqual(d["high"] - d["mean"], half)
    self.assertEqual(d["n"], 3)


class CutDownGridTest(tf.test.TestCase):
  def test_grid_reports(self):
    self.assertTrue(os.path.isdir(MNIST_DIR), f"real MNIST expected at {MNIST_DIR}")
    out = self.create_tempdir().full_path
    args = [
      sys.executable,
      os.path.join(ROOT, "reproduce_main.py"),
      f"--data_dir={MNIST_DIR}",
      f"--output_dir={out}",
      "--seeds=2",
      "--epochs=1",
      "--train_size=512",  # whole batches of 128: one traced step function
      "--test_size=400",
    ]
    # Two shards at once on one output directory (as two machines would be):
    # each trains its runs once, the last to finish writes the report.
    shards = [
      subprocess.Popen([*args, f"--shard={i}/2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)
    ]
    outs = [proc.communicate(timeout=900) for proc in shards]
    for proc, (_, stderr) in zip(shards, outs, strict=True):
      self.assertEqual(proc.returncode, 0, msg=stderr[-3000:])
    trained = sum(stdout.count("trained in") for stdout, _ in outs)
    self.assertEqual(trained, 26, msg=[stdout[-2000:] for stdout, _ in outs])
    with open(os.path.join(out, "runs.csv")) as f:
      rows = list(csv.DictReader(f))
    # 3 datasets x 3 methods + 2 controls x 2 methods, 2 seeds each.
    self.assertLen(rows, (9 + 4) * 2)
    self.assertTrue(all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows))
    with open(os.path.join(out, "table1.md")) as f:
      table = f.read()
    self.assertIn("| Mixup (study) | 98.8% (97.9%) | 95.6% (94.5%) | 96.8% (96.1%) |", table)
    self.assertRegex(table, r"\| Mixup \(ours, 2 seeds\) \| \d+\.\d ± \d+\.\d% \(\d+\.\d ± \d+\.\d%\) \|")
    self.assertRegex(table, r"\| Mixup - without \(ours\) \| [+-]\d+\.\d\d \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\] \|")
    with open(os.path.join(out, "intrusion.md")) as f:
      report = f.read()
    for subset in ("{6,8,9}", "{1,4,7}", "{0,1,4}", "{3,6,7}"):
      self.assertIn(f"| {subset} | ", report)
    self.assertIn("| 6 + 9 | ", report)
    for name in ("table1.png", "mixtures.png"):
      picture = mpimg.imread(os.path.join(out, name))
      self.assertGreater(picture.shape[0], 200)
      self.assertGreater(picture.std(), 0.01)  # not blank
    # The same command again finds every run done and trains nothing.
    again = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    self.assertEqual(again.returncode, 0, msg=again.stderr[-3000:])
    self.assertEqual(again.stdout.count("already done"), 26)
    self.assertNotIn("trained in", again.stdout)
