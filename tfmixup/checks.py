"""The checks of the numbers users pass, in one TF-free place: the mixers, stages and `TrainConfig` use them.

Each returns the value as a Python number (numpy scalars accepted, bools
not) or raises `error` (a `ValueError` subclass: `DataError` from a stage,
`ConfigError` from a config) with a one-line message naming the argument.
"""

import math

from tfmixup import numeric
from tfmixup.errors import DataError


def alpha(value: object, name: str = "alpha", error: type[ValueError] = DataError) -> float:
  """A Beta concentration: a finite real > 0."""
  return positive_real(value, name, error)


def probability(value: object, name: str, error: type[ValueError] = DataError) -> float:
  """A probability: a real in [0, 1]."""
  number = numeric.real(value)
  if number is None or not 0.0 <= number <= 1.0:  # (NaN fails the comparison)
    raise error(f"{name} must be a probability in [0, 1], got {value!r}")
  return number


def fraction_below_one(value: object, name: str, error: type[ValueError] = DataError) -> float:
  """A real in [0, 1), such as a label-smoothing ε."""
  number = numeric.real(value)
  if number is None or not 0.0 <= number < 1.0:
    raise error(f"{name} must be a number in [0, 1), got {value!r}")
  return number


def positive_int(value: object, name: str, error: type[ValueError] = DataError) -> int:
  """An integer >= 1."""
  number = numeric.integer(value)
  if number is None or number < 1:
    raise error(f"{name} must be a positive integer, got {value!r}")
  return number


def positive_real(value: object, name: str, error: type[ValueError] = DataError) -> float:
  """A finite real > 0."""
  number = numeric.real(value)
  if number is None:
    raise error(f"{name} must be a number > 0, got {value!r}")
  if not math.isfinite(number) or number <= 0:
    raise error(f"{name} must be finite and > 0, got {value!r}")
  return number
