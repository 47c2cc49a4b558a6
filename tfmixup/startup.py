"""A quiet start: TensorFlow's C++ start-up lines kept off the user's terminal (TF-free until it imports TF).

Importing TensorFlow printed 3-7 lines on this machine even with
`TF_CPP_MIN_LOG_LEVEL=2`: "WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR", "cudart_stub.cc:
Could not find cuda drivers", "cpu_feature_guard.cc: ... AVX2 FMA", and
"failed call to cuInit". Level 3 drops the last (an ERROR) but not the
others, which C++ absl writes before TensorFlow's level applies, so the
commands also filter file descriptor 2 while TensorFlow is imported, dropping
only those known lines. `TFMIXUP_TF_LOGS=1` (or absl's `--verbosity=1`,
`-v=1`) keeps everything TensorFlow prints.
"""

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

VERBOSE_ENV = "TFMIXUP_TF_LOGS"

# What TensorFlow (and XLA, CUDA probing) print while being imported; nothing else is dropped.
NOISE = re.compile(
  r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
  r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "  # C++ absl INFO and WARNING lines
  r"|E\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*(cuInit|Unable to register cu\w+ factory|computation placer already registered)"
  r"|To enable the following instructions: .* rebuild TensorFlow"
)


def wants_tensorflow_logs(verbosity: int = 0) -> bool:
  """Whether the user asked for TensorFlow's start-up lines: `TFMIXUP_TF_LOGS=1`, or absl verbosity >= 1."""
  return verbosity >= 1 or os.environ.get(VERBOSE_ENV, "").strip() not in {"", "0"}


def import_tensorflow(verbose: bool = False) -> None:
  """Imports TensorFlow and Keras, quietly unless `verbose` (see the module docstring).

  Sets `TF_CPP_MIN_LOG_LEVEL=3` and `GRPC_VERBOSITY=ERROR` where the user has
  not set them. Does nothing more once TensorFlow is imported.
  """
  if "tensorflow" in sys.modules:
    return
  if verbose:
    import keras  # noqa: F401, PLC0415
    import tensorflow  # noqa: F401, PLC0415

    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
  with filtered_stderr(NOISE):
    import keras  # noqa: F401, PLC0415
    import tensorflow  # noqa: PLC0415

    # CUDA is probed when devices are first listed ("failed call to cuInit" at level 2). Listing the
    # physical devices leaves them configurable (`backend.keep_tensorflow_off_accelerators`).
    tensorflow.config.list_physical_devices()


def _write_all(fd: int, data: bytes) -> None:
  while data:
    data = data[os.write(fd, data) :]


@contextlib.contextmanager
def filtered_stderr(drop: re.Pattern) -> Iterator[None]:
  """Within the block, lines written to file descriptor 2 (by C++ too) pass on unless `drop` matches them."""
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # no file descriptor 2: nothing to filter
    yield
    return
  read_end, write_end = os.pipe()
  os.dup2(write_end, 2)
  os.close(write_end)

  def pump() -> None:
    with os.fdopen(read_end, "rb") as pipe:
      for line in pipe:
        if not drop.match(line.decode(errors="replace")):
          _write_all(saved, line)

  thread = threading.Thread(target=pump, name="filtered_stderr", daemon=True)
  thread.start()
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)  # the pipe's last write end closes: the pump reads to the end and stops
    thread.join(timeout=10)
    if not thread.is_alive():  # (a child process that kept the pipe open keeps the pump, and `saved`, alive)
      os.close(saved)
