"""Run shards: n processes sharing an output directory, each given every n-th run (imports no TensorFlow).

The study commands check `--shard` while absl parses the flags, before
TensorFlow is imported quietly (`tfmixup/startup.py`), so this module stays
free of TensorFlow and of the rest of the study.
"""

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
  """Parses "i/n" (0 <= i < n) into (i, n).

  Raises:
    ValueError: anything else; the message says what is expected.
  """
  try:
    index, count = (int(part) for part in text.split("/"))
  except ValueError:
    raise ValueError(f"shard must be i/n with integers 0 <= i < n, e.g. 0/2, got {text!r}") from None
  if not 0 <= index < count:
    raise ValueError(f"shard must be i/n with 0 <= i < n, got {text!r}")
  return index, count


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
  """Shard `index` of `count`: items index, index + count, ... (the shards partition `items`)."""
  return list(items[index::count])
