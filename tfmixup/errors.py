"""The errors tfmixup raises for problems a user can cause (TF-free: config checks run before TensorFlow loads).

Each is a `ValueError`, so callers that already catch bad arguments catch
these too; their messages are one line that says what was wrong and what to
do about it.
"""


class ConfigError(ValueError):
  """A configuration value is out of range; the message says which and why."""


class DataError(ValueError):
  """Base class: the data, or an argument describing it, is not usable."""


class IdxFormatError(DataError):
  """An IDX file is truncated, corrupt, or not the kind of file expected."""


class DataUnavailableError(DataError):
  """A dataset could be found neither in a local directory nor through TFDS."""


class LabelError(DataError):
  """Labels have a dtype, shape or value that the mixing stages cannot use."""
