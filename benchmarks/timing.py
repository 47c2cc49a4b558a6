"""Interleaved epoch timing shared by bench_main.py and profile_mixup.py.

Every variant is built once and iterated once untimed (tracing, thread
pools, shuffle buffers). Then each repetition times one epoch of every
variant, the order rotated by one per repetition, so that a noisy stretch of
a shared machine hits all variants alike. Ratios are taken per repetition
(the two epochs of a pair ran close together) and summarized over
repetitions, which is less noisy than a ratio of medians.
"""

import statistics
import time
from collections.abc import Callable

import tensorflow as tf


def iterate(ds: tf.data.Dataset) -> tuple[int, int]:
  """Runs one epoch from Python (as `model.fit` consumes it); returns (images, batches) seen."""
  n = batches = 0
  for element in ds:
    n += int(element[0].shape[0])
    batches += 1
  return n, batches


def summary(values: list[float]) -> dict:
  return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def interleaved(
  built: dict[str, tf.data.Dataset],
  repeats: int,
  *,
  log: Callable[[str], None] = print,
  run: Callable[[tf.data.Dataset], tuple[int, int]] = iterate,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
  """Per variant and repetition: images/s of one epoch, and the process's CPU µs per batch.

  The CPU time (all threads of this process: the Python consumer and
  tf.data's workers) is the work an epoch costs; on a shared machine it is
  less disturbed by other processes than wall time, though not immune
  (cache misses, the spinning of idle worker threads).
  """
  names = list(built)
  for name in names:
    run(built[name])
  rates = {name: [] for name in names}
  cpu = {name: [] for name in names}
  for rep in range(repeats):
    shift = rep % len(names)
    for name in names[shift:] + names[:shift]:
      start, start_cpu = time.perf_counter(), time.process_time()
      n, batches = run(built[name])
      cpu[name].append((time.process_time() - start_cpu) / batches * 1e6)
      rates[name].append(n / (time.perf_counter() - start))
    log(f"repetition {rep + 1}/{repeats}")
  return rates, cpu


def pairwise(rates: dict[str, list[float]], numerator: str, denominator: str) -> dict:
  """Summary of rates[numerator][r] / rates[denominator][r] over repetitions r."""
  return summary([a / b for a, b in zip(rates[numerator], rates[denominator], strict=True)])
