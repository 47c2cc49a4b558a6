"""Safe output: atomic writes that survive a full disk, and one process per run."""

import errno
import os
import subprocess
import sys
import time
from unittest import mock

import tensorflow as tf

from tfmixup import outputs
from tfmixup.study import run_shards

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WriteAtomicTest(tf.test.TestCase):
  def test_full_disk_leaves_the_old_file(self):
    path = os.path.join(self.create_tempdir().full_path, "runs", "a.json")
    outputs.write_atomic(path, "old")
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with mock.patch.object(outputs.os, "fsync", side_effect=full):
      with self.assertRaisesRegex(outputs.OutputDirError, r"^cannot write .*a\.json: No space left on device$"):
        outputs.write_atomic(path, "new")
    with open(path) as f:
      self.assertEqual(f.read(), "old")
    self.assertEqual(os.listdir(os.path.dirname(path)), ["a.json"])  # no temporary file left
    outputs.write_atomic(path, "new")
    with open(path) as f:
      self.assertEqual(f.read(), "new")

  def test_unwritable_directory(self):
    with self.assertRaisesRegex(outputs.OutputDirError, r"^cannot write /proc/tfmixup/a\.json: "):
      outputs.write_atomic("/proc/tfmixup/a.json", "x")


class RunLockTest(tf.test.TestCase):
  def test_second_process_on_the_same_run_is_refused(self):
    out = self.create_tempdir().full_path
    holder = subprocess.Popen(
      [
        sys.executable,
        "-c",
        "import sys, time; from tfmixup import outputs\n"
        "with outputs.lock_run(sys.argv[1], 'run-seed0'):\n print('locked', flush=True); time.sleep(60)",
        out,
      ],
      cwd=ROOT,
      stdout=subprocess.PIPE,
      text=True,
    )
    try:
      self.assertEqual(holder.stdout.readline().strip(), "locked")
      with self.assertRaisesRegex(
        outputs.RunLockedError, rf"^run run-seed0 is being trained by another process \(pid {holder.pid} on .*\) in "
      ):
        with outputs.lock_run(out, "run-seed0"):
          pass
      with outputs.lock_run(out, "run-seed1"):  # other runs are free
        pass
    finally:
      holder.kill()
      holder.wait()
    deadline = time.time() + 10
    while True:  # the lock goes with the process, however it ends
      try:
        with outputs.lock_run(out, "run-seed0"):
          break
      except outputs.RunLockedError:
        self.assertLess(time.time(), deadline)
        time.sleep(0.1)


class GridShardTest(tf.test.TestCase):
  def test_shards_partition_the_grid(self):
    configs = list(range(65))
    parts = [run_shards.shard(configs, i, 3) for i in range(3)]
    self.assertCountEqual(sum(parts, []), configs)
    self.assertEqual([len(s) for s in parts], [22, 22, 21])
    self.assertEqual(run_shards.parse_shard("2/3"), (2, 3))
    for bad in ("3/3", "-1/2", "1", "a/b", "1/0"):
      with self.assertRaisesRegex(ValueError, "shard must be i/n"):
        run_shards.parse_shard(bad)


if __name__ == "__main__":
  tf.test.main()
