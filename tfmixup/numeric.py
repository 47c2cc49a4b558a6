"""Numbers as users pass them: Python's or numpy's scalars (TF-free, for config and stage checks)."""

import numbers


def integer(value: object) -> int | None:
  """`value` as a Python int if it is an integer scalar (Python or numpy, not a bool), else None."""
  if isinstance(value, bool) or not isinstance(value, numbers.Integral):
    return None
  return int(value)


def real(value: object) -> float | None:
  """`value` as a Python float if it is a real scalar (int, float, numpy integer or floating; not a bool), else None."""
  if isinstance(value, bool) or not isinstance(value, numbers.Real):
    return None
  return float(value)
