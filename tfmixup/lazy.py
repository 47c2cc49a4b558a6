"""A module imported on first use, so that the method registry and config checks run before TensorFlow loads."""

import importlib
import types


class Module:
  """Stands for the module `name` and imports it when an attribute is first read.

  The method modules (`tfmixup/methods/`) refer to TensorFlow and to
  `tfmixup.datasets` through these, so that registering a method, listing
  the methods and checking a config import neither; a bad flag is then
  reported in a fraction of a second.
  """

  def __init__(self, name: str) -> None:
    self._name = name

  def _load(self) -> types.ModuleType:
    return importlib.import_module(self._name)

  def __getattr__(self, attribute: str):
    return getattr(self._load(), attribute)

  def __repr__(self) -> str:
    return f"<tfmixup.lazy.Module {self._name!r}>"
