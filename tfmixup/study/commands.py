"""What the study's commands (`reproduce.py`, `science_app.py`) share: the start, the shard flag, exits, the report.

Imports no TensorFlow: the flags are parsed and checked (`check_shard`) before `start` imports it quietly.
"""

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from absl import flags, logging

from tfmixup import startup
from tfmixup.study.run_shards import parse_shard


def start(argv: list[str]) -> str:
  """A command's first steps: no stray arguments (else exit in one line), then TensorFlow, imported quietly.

  Returns:
    The program's name, for its one-line errors.
  """
  program = os.path.basename(sys.argv[0])
  if len(argv) > 1:
    sys.exit(f"{program}: error: unexpected arguments {argv[1:]}")
  startup.import_tensorflow(verbose=startup.wants_tensorflow_logs(logging.get_verbosity()))
  return program


def check_shard(value: str) -> bool:
  """An absl flag validator for "i/n" (`run_shards.parse_shard`); the error names what is expected.

  absl runs it while parsing the flags, before `start` imports TensorFlow quietly: it must import none.
  """
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


def write_report_once(output_dir: str, write: Callable[[], None], *, started: float, what: str) -> None:
  """Runs `write` under the output directory's "report" lock (shards finishing together: one writes it).

  Then prints how long the command took since `started` (a `time.perf_counter()`) and that `what` is in
  `output_dir`; or, if another process holds the lock (it is writing the report), says so.
  """
  from tfmixup import outputs  # noqa: PLC0415

  try:
    with outputs.lock_run(output_dir, "report"):
      write()
  except outputs.RunLockedError:
    print("Another process is writing the report")
    return
  print(f"Done in {time.perf_counter() - started:.0f} s; {what} in {output_dir}")
