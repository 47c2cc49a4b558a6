"""Interleaved epoch timing shared by bench_main.py and profile_mixup.py.

Every variant is built once and iterated once untimed (tracing, thread
pools, shuffle buffers). Then each repetition times one epoch of every
variant, the order rotated by one per repetition, with an epoch of the
reference variant before the first and after each: every variant's ratio
to the reference is taken against the geometric mean of the two reference
epochs timed just before and just after it, so that the slow drifts of a
shared machine's load cancel. Ratios between two variants are ratios of
their ratios to the reference within the same repetition. All are then
summarized over repetitions: median, min, max.
"""

import dataclasses
import math
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


@dataclasses.dataclass
class Timings:
  """Per variant, one value per timed epoch (the reference has one more per repetition than the others).

  rates: images/s. cpu_us: the process's CPU time per batch (all threads: the
  Python consumer and tf.data's workers; on a shared machine less disturbed
  by other processes than wall time, though not immune). ratios: per
  repetition, rate / geometric mean of the adjacent reference epochs.
  extra_cpu_us: per repetition, cpu_us minus the mean of the adjacent
  reference epochs' (what the variant adds to the reference's work).
  """

  rates: dict[str, list[float]]
  cpu_us: dict[str, list[float]]
  ratios: dict[str, list[float]]
  extra_cpu_us: dict[str, list[float]]

  def pair(self, numerator: str, denominator: str) -> dict:
    """Summary over repetitions of numerator/denominator, both taken relative to the reference."""
    return summary([a / b for a, b in zip(self.ratios[numerator], self.ratios[denominator], strict=True)])


def interleaved(
  built: dict,
  repeats: int,
  reference: str,
  *,
  log: Callable[[str], None] = print,
  run: Callable[[object], tuple[int, int]] = iterate,
) -> Timings:
  """Times `repeats` rounds of [reference, v1, reference, v2, ..., reference], v rotated per round."""
  others = [name for name in built if name != reference]
  for ds in built.values():
    run(ds)
  rates = {name: [] for name in built}
  cpu = {name: [] for name in built}
  ratios = {name: [] for name in built}
  extra = {name: [] for name in built}

  def timed(name: str) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    n, batches = run(built[name])
    cpu[name].append((time.process_time() - start_cpu) / batches * 1e6)
    rates[name].append(n / (time.perf_counter() - start))
    return rates[name][-1], cpu[name][-1]

  for rep in range(repeats):
    shift = rep % max(len(others), 1)
    before = timed(reference)
    for name in others[shift:] + others[:shift]:
      rate, cpu_us = timed(name)
      after = timed(reference)
      ratios[name].append(rate / math.sqrt(before[0] * after[0]))
      extra[name].append(cpu_us - (before[1] + after[1]) / 2)
      before = after
    ratios[reference].append(1.0)
    extra[reference].append(0.0)
    log(f"repetition {rep + 1}/{repeats}")
  return Timings(rates, cpu, ratios, extra)
