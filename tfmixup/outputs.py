"""Safe output: one process per run, and writes that never leave a half-written file.

* `lock_run(output_dir, run_name)`: an exclusive lock on
  `<output_dir>/locks/<run_name>.lock` (`fcntl.lockf`, a POSIX record lock,
  which NFS also honours) held while a run trains. A second process that
  starts the same run in the same directory gets `RunLockedError` at once,
  naming the holder, instead of writing the same files. The lock goes with
  the process, however it ends (kill -9 included); the small lock files
  stay.
* `write_atomic(path, data)`: write to a temporary file beside `path`,
  flush it to disk, then rename it over `path`. A reader sees the old file
  or the new one, never a part; a full disk or an unwritable directory
  raises `OutputDirError` with one line and leaves the old file as it was.
"""

import contextlib
import errno
import fcntl
import os
import socket
from collections.abc import Iterator


class OutputDirError(ValueError):
  """The output directory cannot be created or written; the message says why."""


class RunLockedError(OutputDirError):
  """Another process is training this run in this output directory."""


def _reason(e: OSError) -> str:
  return e.strerror or str(e)


def write_atomic(path: str, data: bytes | str) -> None:
  """Replaces `path` by `data` all at once (see the module docstring).

  Raises:
    OutputDirError: the directory cannot be written (full disk, read-only,
      no permission); `path` is left as it was.
  """
  directory = os.path.dirname(path) or "."
  tmp = f"{path}.tmp{os.getpid()}"
  try:
    os.makedirs(directory, exist_ok=True)
    with open(tmp, "wb") as f:
      f.write(data.encode() if isinstance(data, str) else data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
    sync_directory(directory)
  except OSError as e:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise OutputDirError(f"cannot write {path}: {_reason(e)}") from None


def sync_directory(directory: str) -> None:
  """Flushes a directory's entries (renames into it) to disk, where the OS allows it."""
  try:
    fd = os.open(directory, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


def lock_path(output_dir: str, run_name: str) -> str:
  return os.path.join(output_dir, "locks", f"{run_name}.lock")


@contextlib.contextmanager
def lock_run(output_dir: str, run_name: str) -> Iterator[None]:
  """Holds the run's lock for the `with` block.

  Raises:
    RunLockedError: another process holds it.
    OutputDirError: the lock file cannot be created.
  """
  path = lock_path(output_dir, run_name)
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise OutputDirError(f"cannot create the lock file {path}: {_reason(e)}") from None
  try:
    try:
      fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EACCES, errno.EAGAIN):
        raise OutputDirError(f"cannot lock {path}: {_reason(e)}") from None
      holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
      raise RunLockedError(
        f"run {run_name} is being trained by another process ({holder}) in {output_dir}:"
        " wait for it to finish, or use another output directory"
      ) from None
    with contextlib.suppress(OSError):
      os.ftruncate(fd, 0)
      os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    yield
  finally:
    os.close(fd)  # releases the lock
