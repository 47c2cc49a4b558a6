"""What the study's commands (`reproduce.py`, `science_app.py`) share: the shard flag, one-line exits, one report."""

import contextlib
import sys
from collections.abc import Callable, Iterator

from absl import flags


def check_shard(value: str) -> bool:
  """An absl flag validator for "i/n" (`grid.parse_shard`); the error names what is expected."""
  from tfmixup.study.grid import parse_shard  # noqa: PLC0415

  try:
    parse_shard(value)
  except ValueError as e:
    raise flags.ValidationError(str(e)) from None
  return True


@contextlib.contextmanager
def one_line_errors(program: str) -> Iterator[None]:
  """Exits with one line for what a user can cause: a stop signal (128 + signal), bad data or output, a bad cluster."""
  from tfmixup import checkpoints, distributed, training  # noqa: PLC0415
  from tfmixup.config import ConfigError  # noqa: PLC0415
  from tfmixup.datasets import DataError  # noqa: PLC0415

  try:
    yield
  except checkpoints.Interrupted as e:
    print(f"{program}: {e}", file=sys.stderr, flush=True)
    sys.exit(128 + e.signum)
  except (DataError, ConfigError, training.OutputDirError, distributed.ClusterError, FileNotFoundError) as e:
    sys.exit(f"{program}: error: {e}")


def write_report_once(output_dir: str, write: Callable[[], None]) -> bool:
  """Runs `write` under the output directory's "report" lock (shards finishing together: one writes it).

  Returns:
    False if another process holds the lock (it is writing the report).
  """
  from tfmixup import outputs  # noqa: PLC0415

  try:
    with outputs.lock_run(output_dir, "report"):
      write()
  except outputs.RunLockedError:
    print("Another process is writing the report")
    return False
  return True
