"""Multi-worker training: worker shares of every batch, two TF workers on 127.0.0.1, two JAX devices."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import coded_arrays

from tfmixup import datasets, distributed
from tfmixup.datasets import DataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")
SIZE, EPOCHS = 60, 2  # as distributed_worker.py


def free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_worker(out_file, **env):
  return subprocess.Popen(
    [sys.executable, WORKER, out_file],
    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    cwd=ROOT,
  )


class WorkerSharesTest(tf.test.TestCase, parameterized.TestCase):
  """Worker i's batches are rows [i·b/n, (i+1)·b/n) of the batches one worker would get, exactly."""

  @parameterized.named_parameters(
    ("mixup", lambda d, **o: datasets.mixup(d, alpha=0.4, **o), 3),
    ("cutmix", datasets.cutmix, 2),
    ("pair_sampling_uneven_tail", lambda d, **o: datasets.pair_sampling(d, prob=0.5, **o), 3),
  )
  def test_worker_shares_partition_every_batch(self, stage, workers):
    data = coded_arrays(50, num_classes=3, shape=(6, 6, 1))
    options = dict(batch_size=9, seed=11, initial_epoch=3)
    whole = [(x.numpy(), y.numpy()) for x, y in stage(data, **options)]
    shares = [
      [(x.numpy(), y.numpy()) for x, y in stage(data, num_workers=workers, worker_index=i, **options)]
      for i in range(workers)
    ]
    self.assertLen(whole, 6)
    for i, share in enumerate(shares):
      self.assertLen(share, len(whole))
      for (x, y), (xs, ys) in zip(whole, share, strict=True):
        lo, hi = i * len(x) // workers, (i + 1) * len(x) // workers
        self.assertAllEqual(xs, x[lo:hi])
        self.assertAllEqual(ys, y[lo:hi])

  def test_worker_shares_of_a_tf_data_input(self):
    data = coded_arrays(40, num_classes=4)
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.labels))
    options = dict(batch_size=8, seed=5, num_classes=4)
    whole = np.concatenate([x.numpy() for x, _ in datasets.mixup(ds, **options)])
    shares = [[x.numpy() for x, _ in datasets.mixup(ds, num_workers=2, worker_index=i, **options)] for i in range(2)]
    rows = np.concatenate([np.concatenate(pair) for pair in zip(*shares, strict=True)])
    self.assertAllEqual(rows, whole)

  def test_custom_mixers_get_a_seed_per_worker(self):
    # A per-batch seed cannot be cut by rows: each worker draws its own (else both
    # halves of a batch would get the same random numbers).
    def noise(images_a, labels_a, images_b, labels_b, seed):
      del images_b, labels_b
      return images_a + tf.random.stateless_uniform(tf.shape(images_a), seed), labels_a

    data = coded_arrays(16, shape=(2, 2, 1))
    options = dict(batch_size=16, seed=1, num_workers=2)
    shares = [next(iter(datasets.paired(data, noise, worker_index=i, **options)))[0].numpy() for i in range(2)]
    self.assertNotAllClose(shares[0] - shares[0].round(), shares[1] - shares[1].round())
    again = next(iter(datasets.paired(data, noise, worker_index=1, **options)))[0].numpy()
    self.assertAllEqual(again, shares[1])  # deterministic given (seed, worker, epoch)

  @parameterized.named_parameters(
    ("index_too_large", dict(num_workers=2, worker_index=2), r"worker_index must be in \[0, num_workers\)"),
    ("index_negative", dict(num_workers=2, worker_index=-1), r"worker_index must be in"),
    ("workers_not_int", dict(num_workers=2.0), "num_workers must be an integer"),
    ("tail_too_small", dict(num_workers=3, worker_index=0), "a batch of 2 examples cannot be split across 3 workers"),
  )
  def test_bad_worker_options(self, options, message):
    with self.assertRaisesRegex(DataError, message):
      datasets.mixup(coded_arrays(10), batch_size=8, seed=0, **options)


class TfConfigTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("not_json", "{cluster", r"^TF_CONFIG is not valid JSON \(.* at character \d+\)$"),
    ("no_cluster", '{"task": {}}', 'must be an object with "cluster" and "task"'),
    ("chief_role", '{"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {}}', r"only \"worker\" tasks"),
    ("bad_address", '{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
    ("index_out_of_range", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', r"\[0, 1\)"),
    ("no_task", '{"cluster": {"worker": ["a:1"]}}', 'task must be {"type": "worker"'),
  )
  def test_malformed_tf_config_for_workers(self, text, message):
    with self.assertRaisesRegex(distributed.ClusterError, message):
      distributed.parse_tf_config(text)

  def test_tf_config_of_two_workers(self):
    text = json.dumps({"cluster": {"worker": ["h0:1", "h1:2"]}, "task": {"type": "worker", "index": 1}})
    self.assertEqual(distributed.parse_tf_config(text), distributed.Cluster(workers=("h0:1", "h1:2"), index=1))


@pytest.mark.slow
class MultiWorkerTrainingTest(tf.test.TestCase):
  def assertCoversOnce(self, shares):
    """shares: [workers][epochs, examples]: per epoch, every example exactly once across the workers."""
    for epoch in range(EPOCHS):
      seen = np.concatenate([s[epoch] for s in shares]).astype(int)
      self.assertAllEqual(np.sort(seen), np.arange(SIZE))
    self.assertNotAllEqual(shares[0][0], shares[0][1])  # a new permutation each epoch

  def test_two_tf_workers_on_localhost(self):
    out = self.create_tempdir().full_path
    addresses = [f"127.0.0.1:{p}" for p in free_ports(2)]
    procs = []
    for i in range(2):
      config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}
      procs.append(start_worker(os.path.join(out, f"{i}.npz"), TF_CONFIG=json.dumps(config)))
    for proc in procs:
      output, _ = proc.communicate(timeout=300)
      self.assertEqual(proc.returncode, 0, msg=output[-3000:])
    results = [np.load(os.path.join(out, f"{i}.npz")) for i in range(2)]
    self.assertEqual([int(r["workers"]) for r in results], [2, 2])
    names = [k for k in results[0] if k.startswith("weight")]
    self.assertLen(names, 8)
    for name in names:  # all-reduced gradients: the same weights on both workers, to the bit
      self.assertAllEqual(results[0][name], results[1][name])
    self.assertCoversOnce([r["shares"][:, 0] for r in results])

  def test_two_jax_devices_data_parallel(self):
    out = os.path.join(self.create_tempdir().full_path, "jax.npz")
    proc = start_worker(out, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    output, _ = proc.communicate(timeout=300)
    self.assertEqual(proc.returncode, 0, msg=output[-3000:])
    result = np.load(out)
    self.assertEqual(int(result["workers"]), 2)
    for name in [k for k in result if k.startswith("weight")]:
      copies = result[name]
      self.assertLen(copies, 2)  # one copy per device
      self.assertAllEqual(copies[0], copies[1])
    self.assertCoversOnce([result["shares"][:, d] for d in range(2)])


if __name__ == "__main__":
  tf.test.main()
