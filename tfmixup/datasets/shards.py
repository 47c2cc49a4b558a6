"""One worker's share of a stage's batches, for multi-worker (data-parallel) training.

With `num_workers=n`, worker i gets rows [i·b/n, (i+1)·b/n) (integer
division) of every batch of b examples that a single worker would get, with
the same partners and the same per-sample draws (λ, boxes, coin flips).
Every worker computes the same two permutations of the whole dataset (the
seed tree of `seeds.py` does not depend on the worker), so:

* the workers' shares of one batch partition it: across the workers each
  example is used once per epoch, in the step a single worker would use it;
* partners come from the whole dataset, not from the worker's share;
* a worker's stream is a function of (seed, worker index, epoch).

A mixer's per-batch draws (`Custom`'s seeds, `per_batch_draws`) cannot be
cut by rows; each worker redraws them from a seed of its own, derived from
the epoch's and its index.

On the in-memory path only the worker's rows are gathered and mixed; a
`tf.data.Dataset` input is mixed whole and then sliced (n times the mixing
work per worker, the same batches).
"""

import tensorflow as tf

from tfmixup import numeric
from tfmixup.datasets import seeds
from tfmixup.datasets.errors import DataError


def check(num_workers: object, worker_index: object) -> None:
  """Raises DataError unless 0 <= worker_index < num_workers, both integers."""
  for name, value in (("num_workers", num_workers), ("worker_index", worker_index)):
    if numeric.integer(value) is None:
      raise DataError(f"{name} must be an integer, got {value!r}")
  if num_workers < 1 or not 0 <= worker_index < num_workers:
    raise DataError(f"worker_index must be in [0, num_workers), got {worker_index} of {num_workers}")


def check_split(num_workers: int, batch_size: int, remainder: int) -> bool:
  """Whether the batches are split at all; raises DataError if a worker would get an empty batch.

  Args:
    num_workers: n.
    batch_size: examples per full batch.
    remainder: examples in the last, smaller batch (0: none).
  """
  for size in (batch_size, remainder):
    if 0 < size < num_workers:
      raise DataError(
        f"a batch of {size} examples cannot be split across {num_workers} workers:"
        " use a larger batch size or drop_remainder=True"
      )
  return num_workers > 1


def bounds(size, num_workers: int, worker_index: int):
  """Rows [lo, hi) of a batch of `size` (int or int scalar tensor) for one worker."""
  return worker_index * size // num_workers, (worker_index + 1) * size // num_workers


def slice_batch(batch, num_workers: int, worker_index: int):
  """One worker's rows of every tensor of a batch (a structure of `[B, ...]` tensors)."""
  first = tf.nest.flatten(batch)[0]
  lo, hi = bounds(tf.shape(first, out_type=tf.int64)[0], num_workers, worker_index)
  return tf.nest.map_structure(lambda t: t[lo:hi], batch)


def share(full, rest, split: tuple[int, int], mixer, epoch_seed: tf.Tensor):
  """One worker's columns of an epoch's index rows and draws (the in-memory path).

  Args:
    full: `(rows_a [S, B], rows_b [S, B], draws {name: [S, B, ...]})` of the
      S full batches.
    rest: `(rest_a [r], rest_b [r], draws {name: [B, ...]} or None)` of the
      smaller last batch (r < B; draws None when there is none).
    split: (num_workers, worker_index).
    mixer: the stage's mixer (its `per_batch_draws` are redrawn, not cut).
    epoch_seed: the epoch's seed, int64 `[2]`.

  Returns:
    `(rows_a, rows_b, draws, rest_a, rest_b, rest_draws)`, this worker's part.
  """
  (full_a, full_b, head), (rest_a, rest_b, tail), (num_workers, worker_index) = full, rest, split
  per_batch = mixer.per_batch_draws if mixer is not None else ()
  lo, hi = bounds(full_a.shape[1], num_workers, worker_index)
  full_a, full_b = full_a[:, lo:hi], full_b[:, lo:hi]
  head = {name: value if name in per_batch else value[:, lo:hi] for name, value in head.items()}
  if tail is not None:
    lo, hi = bounds(tf.shape(rest_a, out_type=tf.int64)[0], num_workers, worker_index)
    rest_a, rest_b = rest_a[lo:hi], rest_b[lo:hi]
    tail = {name: value if name in per_batch else value[lo:hi] for name, value in tail.items()}
  if per_batch:
    num_batches = full_a.shape[0] + (tail is not None)
    own_seed = seeds.derive(seeds.stream(epoch_seed, seeds.Stream.LAMBDA), seeds.Stream.WORKER, worker_index)
    own = mixer.draw(own_seed, num_batches, hi - lo, None)
    head = {name: own[name][: full_a.shape[0]] if name in per_batch else value for name, value in head.items()}
    if tail is not None:
      tail = {name: own[name][-1] if name in per_batch else value for name, value in tail.items()}
  return full_a, full_b, head, rest_a, rest_b, tail
