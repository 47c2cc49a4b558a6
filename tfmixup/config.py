"""The typed configuration that carries hyperparameters into the library.

`train_main.py` builds one from flags; tests and the experiment grid build
them directly. Library code never reads flags.
"""

import dataclasses
import math
from collections.abc import Sequence

METHODS = ("erm", "mixup", "pair_sampling")
JIT_CHOICES = ("auto", "true", "false")


class ConfigError(ValueError):
  """A configuration value is out of range; the message says which and why."""


def parse_subset(text: str) -> tuple[int, ...] | None:
  """Parses a `--subset` value: "all" or distinct digits such as "689".

  Returns:
    None for "all", else the digits in the order written.

  Raises:
    ConfigError: anything but "all" or two or more distinct digits.
  """
  text = text.strip()
  if text == "all":
    return None
  if not text or not text.isdigit() or not text.isascii():
    raise ConfigError(f"subset must be 'all' or digits such as 689, got {text!r}")
  digits = tuple(int(c) for c in text)
  repeated = sorted({d for d in digits if digits.count(d) > 1})
  if repeated:
    raise ConfigError(f"subset {text!r} repeats digit(s) {repeated}")
  if len(digits) < 2:
    raise ConfigError(f"subset {text!r} has one class; a classifier needs at least two")
  return digits


def subset_name(classes: Sequence[int] | None) -> str:
  """The inverse of `parse_subset`: "all" or the digits, e.g. "689"."""
  return "all" if classes is None else "".join(str(c) for c in classes)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """One training run.

  Attributes:
    dataset: TFDS name, or a label for the IDX files in `data_dir`.
    classes: original class labels to keep (None: all), relabelled 0..k-1.
    method: "erm" (no mixing), "mixup" or "pair_sampling".
    alpha: Beta(α, α) concentration for Mixup.
    seed: seeds weights, shuffles and λ.
    epochs: passes over the training data.
    batch_size: examples per step.
    learning_rate: Adam's learning rate.
    data_dir: IDX directory or TFDS data directory (None: TFDS default).
    download: let TFDS download into `data_dir` (always allowed when it is None).
    jit_compile: "auto" (XLA when a GPU is visible), "true" or "false".
    train_size: use only the first N training images (None: all).
    test_size: use only the first N test images (None: all).
  """

  dataset: str = "mnist"
  classes: tuple[int, ...] | None = None
  method: str = "erm"
  alpha: float = 1.0
  seed: int = 0
  epochs: int = 10
  batch_size: int = 128
  learning_rate: float = 1e-3
  data_dir: str | None = None
  download: bool = False
  jit_compile: str = "auto"
  train_size: int | None = None
  test_size: int | None = None

  def __post_init__(self) -> None:
    if self.method not in METHODS:
      raise ConfigError(f"method must be one of {METHODS}, got {self.method!r}")
    if not (isinstance(self.alpha, int | float) and math.isfinite(self.alpha) and self.alpha > 0):
      raise ConfigError(f"alpha must be finite and > 0, got {self.alpha!r}")
    for name in ("epochs", "batch_size"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    for name in ("train_size", "test_size"):
      value = getattr(self, name)
      if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
    if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
      raise ConfigError(f"learning_rate must be finite and > 0, got {self.learning_rate!r}")
    if self.jit_compile not in JIT_CHOICES:
      raise ConfigError(f"jit_compile must be one of {JIT_CHOICES}, got {self.jit_compile!r}")
    if self.classes is not None:
      classes = tuple(int(c) for c in self.classes)
      if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ConfigError(f"classes must be two or more distinct labels, got {classes}")
      object.__setattr__(self, "classes", classes)

  @property
  def subset(self) -> str:
    return subset_name(self.classes)

  @property
  def run_name(self) -> str:
    """A file-name-safe identifier of everything but the seed-independent knobs."""
    method = f"mixup-a{self.alpha:g}" if self.method == "mixup" else self.method
    return f"{self.dataset}-{self.subset}-{method}-seed{self.seed}"

  def to_dict(self) -> dict:
    d = dataclasses.asdict(self)
    d["classes"] = list(self.classes) if self.classes is not None else None
    return d

  @classmethod
  def from_dict(cls, d: dict) -> "TrainConfig":
    d = dict(d)
    if d.get("classes") is not None:
      d["classes"] = tuple(d["classes"])
    return cls(**d)
