"""Errors raised by `tfmixup.datasets` (defined, TF-free, in `tfmixup.errors`)."""

from tfmixup.errors import DataError, DataUnavailableError, IdxFormatError, LabelError

__all__ = ["DataError", "DataUnavailableError", "IdxFormatError", "LabelError"]
