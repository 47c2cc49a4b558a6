"""Schedules: in which epochs a stage mixes.

A stage with a schedule mixes in the epochs the schedule names and yields
plain (unmixed, but still shuffled and label-smoothed) batches in the
others. The random streams do not depend on the schedule: epoch e draws the
same pairs and λ whether it mixes or not, so switching a schedule on or off
changes only the epochs it names.

The epoch number is the stage's own (its `initial_epoch` plus the
iterations so far; Keras starts one iteration per epoch), so a run resumed
at epoch k with `initial_epoch=k` (and Keras's `fit(initial_epoch=k)`)
gets the batches, and the schedule, it would have had without the break.
"""

import dataclasses

import tensorflow as tf

from tfmixup import numeric
from tfmixup.datasets.errors import DataError


def _check_count(name: str, value: object, minimum: int) -> int:
  """`value` as a Python int (numpy integers too); raises DataError unless it is an integer >= `minimum`."""
  count = numeric.integer(value)
  if count is None or count < minimum:
    raise DataError(f"schedule {name} must be an integer >= {minimum}, got {value!r}")
  return count


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Mixing on in epochs [start, stop), `on` epochs on then `off` epochs off, repeating.

  SamplePairing as its author trained it (Inoue 2018, section 3): off at
  first (100 epochs on CIFAR), then on for 8 epochs and off for 2,
  intermittently, and off for the final fine-tuning epochs:
  `Schedule(start=100, on=8, off=2, stop=epochs - final)`. "Off for the last
  k epochs" of an n-epoch run, for any method: `Schedule.off_last(k, n)`.

  Attributes:
    start: first epoch that may mix (0-based); earlier epochs do not.
    stop: first epoch that does not mix again (None: never stops).
    on: epochs on per cycle, counted from `start` (None: on throughout).
    off: epochs off per cycle, after each `on` epochs.
  """

  start: int = 0
  stop: int | None = None
  on: int | None = None
  off: int = 0

  def __post_init__(self) -> None:
    object.__setattr__(self, "start", _check_count("start", self.start, 0))
    if self.stop is not None:
      object.__setattr__(self, "stop", _check_count("stop", self.stop, 0))
    if self.on is not None:
      object.__setattr__(self, "on", _check_count("on", self.on, 1))
    object.__setattr__(self, "off", _check_count("off", self.off, 0))
    if self.on is None and self.off:
      raise DataError(f"schedule off={self.off} needs on: the number of epochs on per cycle")

  @classmethod
  def off_last(cls, last: int, epochs: int) -> "Schedule":
    """On in every epoch but the last `last` of `epochs`."""
    epochs, last = _check_count("epochs", epochs, 1), _check_count("last", last, 0)
    if last > epochs:
      raise DataError(f"schedule: cannot turn mixing off for the last {last} of {epochs} epochs")
    return cls(stop=epochs - last)

  def active(self, epoch: int) -> bool:
    """Whether epoch `epoch` (0-based) mixes."""
    if epoch < self.start or (self.stop is not None and epoch >= self.stop):
      return False
    return self.on is None or (epoch - self.start) % (self.on + self.off) < self.on

  def active_tensor(self, epoch: tf.Tensor) -> tf.Tensor:
    """`active` for an int64 scalar tensor epoch, as a bool scalar tensor."""
    epoch = tf.cast(epoch, tf.int64)
    result = epoch >= self.start
    if self.stop is not None:
      result &= epoch < self.stop
    if self.on is not None:
      result &= tf.math.floormod(epoch - self.start, self.on + self.off) < self.on
    return result

  def epochs_on(self, epochs: int) -> list[int]:
    """The epochs among 0..epochs-1 that mix."""
    return [e for e in range(epochs) if self.active(e)]
