"""The typed configuration that carries hyperparameters into the library: declared once, here.

`TrainConfig`'s fields are the one declaration of a run's settings: their
defaults, their help (the class docstring's Attributes, `field_help`) and
their checks (`__post_init__`, TF-free, with `tfmixup.checks`) are all
here, and the command line's flags are made from them (`tfmixup.cli`).
`train_main.py` builds one from flags; tests and the experiment grid build
them directly. Library code never reads flags.
"""

import ast
import dataclasses
import hashlib
import inspect
import json
import math
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tfmixup import checks, methods, numeric
from tfmixup.errors import ConfigError

if TYPE_CHECKING:
  from tfmixup.datasets import Schedule

__all__ = [
  "ConfigError",
  "TrainConfig",
  "field_help",
  "parse_method_args",
  "parse_pairs",
  "parse_subset",
  "subset_name",
]

JIT_CHOICES = ("auto", "true", "false")
FEED_CHOICES = ("auto", "host", "device")
LOOP_CHOICES = ("auto", "fit", "epoch")
MAX_SEED = 2**32 - 1  # keras.utils.set_random_seed seeds numpy, which takes [0, 2**32 - 1]


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


def parse_pairs(text: str) -> tuple[tuple[int, int], ...]:
  """Parses an `--exclude_pairs` value: comma-separated pairs of digits such as "69,68" ("" for none).

  Raises:
    ConfigError: anything but two distinct digits per pair.
  """
  pairs = []
  for part in (p.strip() for p in text.split(",")) if text.strip() else ():
    if len(part) != 2 or not part.isdigit() or not part.isascii() or part[0] == part[1]:
      raise ConfigError(f"exclude_pairs must be pairs of two different digits such as 69,68, got {text!r}")
    pairs.append((int(part[0]), int(part[1])))
  return tuple(pairs)


def parse_method_args(text: str) -> tuple[tuple[str, object], ...]:
  """Parses a `--method_args` value: comma-separated `knob=value` such as "scale_min=0.2,prob=0.5" ("" for none).

  Values are Python literals (numbers, True/False, quoted strings); any
  other text is taken as a string.

  Raises:
    ConfigError: a part without "=", a knob that is not an identifier, or a knob given twice.
  """
  args: dict[str, object] = {}
  for part in (p.strip() for p in text.split(",")) if text.strip() else ():
    name, sep, value = (x.strip() for x in part.partition("="))
    if not sep or not name.isidentifier():
      raise ConfigError(f"method_args must be knob=value pairs such as scale_min=0.2,prob=0.5, got {text!r}")
    if name in args:
      raise ConfigError(f"method_args gives {name!r} twice: {text!r}")
    try:
      args[name] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      args[name] = value
  return tuple(args.items())


def subset_name(classes: Sequence[int] | None) -> str:
  """The inverse of `parse_subset`: "all" or the digits, e.g. "689"."""
  return "all" if classes is None else "".join(str(c) for c in classes)


def _as_json(value: object) -> object:
  """Tuples as lists, recursively, as `json` and `TrainConfig.to_dict` give them."""
  return [_as_json(v) for v in value] if isinstance(value, tuple | list) else value


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """One training run.

  Attributes:
    dataset: TFDS name, or a label for the IDX files in `data_dir`.
    classes: original class labels to keep (None: all), relabelled 0..k-1.
    method: a registered method name (`tfmixup.methods.names()`): "erm"
      (no mixing), "mixup", "cutmix", "mixup_cutmix", "pair_sampling", ...
    alpha: Beta(α, α) concentration of Mixup and CutMix (of Mixup in
      "mixup_cutmix").
    cutmix_alpha: CutMix's concentration in "mixup_cutmix".
    switch_prob: probability of CutMix rather than Mixup in "mixup_cutmix".
    prob: probability that a training example is mixed.
    label_smoothing: ε in [0, 1) for the training labels, every method.
    mix_start: first epoch (0-based) that mixes.
    mix_on: mix in cycles of `mix_on` epochs on, `mix_off` off, from
      `mix_start` (0: no cycles, mix throughout).
    mix_off: epochs off per cycle.
    off_last: epochs at the end that do not mix.
    seed: seeds weights, shuffles and λ.
    epochs: passes over the training data.
    batch_size: examples per step.
    learning_rate: Adam's learning rate.
    data_dir: IDX directory or TFDS data directory (None: TFDS default).
    download: let TFDS download into `data_dir` (always allowed when it is None).
    jit_compile: "auto" (compile where the backend needs it: always under
      JAX, with TensorFlow on an accelerator; see `tfmixup.backend`),
      "true" or "false".
    feed: how batches reach the model: "host" (the `tf.data` stage sends
      images), "device" (the data resident on the device, mixed in the
      compiled step: `tfmixup.datasets.device_feed`), or "auto" (device
      when the backend sees an accelerator and the method has a device feed).
    steps_per_execution: training steps per compiled call (Keras's
      `compile(steps_per_execution=)`); more cuts per-step overhead on an
      accelerator.
    loop: the training loop: "fit" (Keras's `fit`), "epoch" (one compiled
      call per epoch, `tfmixup.epoch_loop`: JAX backend, a method with a
      device feed, which it then uses), or "auto" (the epoch loop under
      JAX on an accelerator where the method has a device feed and one
      device trains; else `fit`).
    train_size: use only the first N training images (None: all).
    test_size: use only the first N test images (None: all).
    train_per_class: use only the first N training images of each class
      (None: all); applied before `train_size`.
    fraction: train on only the first `fraction` of the one epoch (a
      training length under one epoch; needs `epochs` = 1 when < 1).
    sorted_buffer: a pipeline fault, for the study (see `results/science/science.md`):
      the training data sorted by class and each epoch's order made by a
      shuffle buffer of this many examples, as `tf.data`'s `shuffle(N)`
      over class-sorted files does (None: a full shuffle each epoch).
    input_scale: the model multiplies its inputs by this; 255 reproduces
      unnormalized 0-255 inputs (another pipeline fault).
    teacher: the judge of the intrusion-filtering methods ("mixup_filtered",
      "mixup_relabeled", "mixup_random_drop"): "nn" (the nearest training
      image's label, over the run's training split) or the path of a saved
      `.keras` model trained without mixing on the same classes.
    exclude_pairs: class pairs, by original label (as in `classes`), that
      never mix: a partner of an excluded pair is redrawn (the stage option
      `exclude_pairs`, `tfmixup/datasets/pairs.py`). () for none.
    method_args: the method's other knobs, `((name, value), ...)`: the
      fields of its mixer (`tfmixup.methods.Method.knob_names`), e.g.
      `(("scale_min", 0.2),)` for resizemix; a knob that a field above sets
      (alpha, cutmix_alpha, switch_prob, prob) is moved into that field, so
      one run has one config. () for none.
  """

  dataset: str = "mnist"
  classes: tuple[int, ...] | None = None
  method: str = "erm"
  alpha: float = 1.0
  cutmix_alpha: float = 1.0
  switch_prob: float = 0.5
  prob: float = 1.0
  label_smoothing: float = 0.0
  mix_start: int = 0
  mix_on: int = 0
  mix_off: int = 0
  off_last: int = 0
  seed: int = 0
  epochs: int = 10
  batch_size: int = 128
  learning_rate: float = 1e-3
  data_dir: str | None = None
  download: bool = False
  jit_compile: str = "auto"
  feed: str = "auto"
  steps_per_execution: int = 1
  loop: str = "auto"
  train_size: int | None = None
  test_size: int | None = None
  train_per_class: int | None = None
  fraction: float = 1.0
  sorted_buffer: int | None = None
  input_scale: float = 1.0
  teacher: str = "nn"
  exclude_pairs: tuple[tuple[int, int], ...] = ()
  method_args: tuple[tuple[str, object], ...] = ()

  def __post_init__(self) -> None:  # noqa: PLR0915 - one check per field, in field order
    self._python_numbers()
    method = methods.get(self.method)  # raises ConfigError listing the names; resolved once, here
    object.__setattr__(self, "_method", method)
    self._check_method_args(method)
    for name in ("alpha", "cutmix_alpha"):
      checks.alpha(getattr(self, name), name, ConfigError)
    for name in ("switch_prob", "prob"):
      checks.probability(getattr(self, name), name, ConfigError)
    checks.fraction_below_one(self.label_smoothing, "label_smoothing", ConfigError)
    for name in ("mix_start", "mix_on", "mix_off", "off_last"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
    if self.mix_off and not self.mix_on:
      raise ConfigError(f"mix_off={self.mix_off} needs mix_on: the epochs on per cycle")
    self._check_seed()
    for name in ("epochs", "batch_size"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    for name in ("train_size", "test_size", "train_per_class", "sorted_buffer"):
      value = getattr(self, name)
      if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
    self._check_regime()
    checks.positive_real(self.learning_rate, "learning_rate", ConfigError)
    if self.jit_compile not in JIT_CHOICES:
      raise ConfigError(f"jit_compile must be one of {JIT_CHOICES}, got {self.jit_compile!r}")
    if self.feed not in FEED_CHOICES:
      raise ConfigError(f"feed must be one of {FEED_CHOICES}, got {self.feed!r}")
    if self.feed == "device" and not method.has_device_feed:
      raise ConfigError(f"method {self.method!r} has no device feed; use feed 'host' or 'auto'")
    self._check_loop(method)
    spe = self.steps_per_execution
    if isinstance(spe, bool) or not isinstance(spe, int) or spe < 1:
      raise ConfigError(f"steps_per_execution must be a positive integer, got {spe!r}")
    if not isinstance(self.teacher, str) or (self.teacher != "nn" and not self.teacher.endswith(".keras")):
      raise ConfigError(f"teacher must be 'nn' or the path of a .keras model, got {self.teacher!r}")
    if self.classes is not None:
      classes = tuple(int(c) for c in self.classes)
      if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ConfigError(f"classes must be two or more distinct labels, got {classes}")
      object.__setattr__(self, "classes", classes)
    self._check_pairs(method)
    if self.off_last > self.epochs:
      raise ConfigError(f"off_last={self.off_last} is more than the {self.epochs} epochs")
    self._check_schedule_mixes()
    if (self.mix_start or self.mix_on or self.off_last) and not method.mixes:  # (without importing TensorFlow)
      raise ConfigError(f"mix_start, mix_on, mix_off and off_last need a mixing method, not {self.method!r}")
    if method.check_config is not None:
      method.check_config(self)

  def _check_loop(self, method: methods.Method) -> None:
    if self.loop not in LOOP_CHOICES:
      raise ConfigError(f"loop must be one of {LOOP_CHOICES}, got {self.loop!r}")
    if self.loop != "epoch":
      return
    if not method.has_device_feed:
      raise ConfigError(f"loop 'epoch' trains on a device feed, and method {self.method!r} has none; use loop 'fit'")
    if self.feed == "host":
      raise ConfigError("loop 'epoch' trains on the device feed: use feed 'device' or 'auto' with it, or loop 'fit'")

  @property
  def method_spec(self) -> methods.Method:
    """The registered `tfmixup.methods.Method` that `method` names (looked up once, when the config was made)."""
    return self._method

  def _check_method_args(self, method: methods.Method) -> None:
    """`method_args`: a mapping or pairs of the method's knobs; those a field sets move there; the rest checked.

    The other knobs are checked by building the method's mixer with them
    (`Method.check_args`, TF-free).
    """
    args = self.method_args
    try:
      args = dict(args.items() if isinstance(args, dict) else args)
    except (TypeError, ValueError):
      raise ConfigError(f"method_args must be (name, value) pairs or a dict, got {self.method_args!r}") from None
    fields = dict(method.config_knobs)
    for knob in [k for k in args if k in fields]:  # e.g. --method_args=alpha=0.5 is --alpha=0.5
      field, value = fields[knob], args.pop(knob)
      default = TrainConfig.__dataclass_fields__[field].default
      if getattr(self, field) not in (default, value):
        raise ConfigError(f"method_args sets {knob}={value!r} and {field} is {getattr(self, field)!r}: give one")
      object.__setattr__(self, field, numeric.real(value) if numeric.real(value) is not None else value)
    if args:  # (the knobs the fields set are checked with the fields)
      knobs = method.check_args({**{k: getattr(self, f) for k, f in fields.items()}, **args}, ConfigError)
      args = {name: knobs[name] for name in args}
    object.__setattr__(self, "method_args", tuple(sorted(args.items())))

  def _python_numbers(self) -> None:
    """numpy scalars (and ints for float fields) as Python numbers, so checks, equality and JSON treat them alike."""
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if field.type is float and numeric.real(value) is not None:
        object.__setattr__(self, field.name, numeric.real(value))
      elif field.type in (int, int | None) and numeric.integer(value) is not None:
        object.__setattr__(self, field.name, numeric.integer(value))

  def _check_seed(self) -> None:
    if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
      raise ConfigError(f"seed must be an integer in [0, 2**32 - 1] (numpy's seeds), got {self.seed!r}")

  def _check_schedule_mixes(self) -> None:
    """A schedule (mix_start, mix_on/mix_off, off_last) must leave at least one epoch that mixes."""
    # Epoch mix_start mixes whenever it is before the last off_last epochs (a cycle starts "on").
    if (self.mix_start or self.off_last) and self.mix_start >= self.epochs - self.off_last:
      raise ConfigError(
        f"the schedule never mixes: mix_start={self.mix_start} and off_last={self.off_last} leave no epoch"
        f" of {self.epochs} to mix; lower them or raise epochs"
      )

  def _check_regime(self) -> None:
    """The training-length and input-scale knobs of the study's regimes."""
    ranges = (
      ("fraction", "in (0, 1]", lambda v: 0 < v <= 1),
      ("input_scale", "finite and > 0", lambda v: 0 < v < math.inf),
    )
    for name, what, within in ranges:
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int | float) or not within(value):
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    if self.fraction < 1 and self.epochs != 1:
      raise ConfigError(f"fraction={self.fraction:g} (< 1 epoch) needs epochs=1, got epochs={self.epochs}")

  def _check_pairs(self, method) -> None:
    """`exclude_pairs`: canonical (each pair sorted, pairs sorted), classes of the run, a mixing method."""
    pairs = self.exclude_pairs
    message = f"exclude_pairs must be pairs of two different class labels such as ((6, 9),), got {pairs!r}"
    try:
      canonical = tuple(sorted({tuple(sorted((int(a), int(b)))) for a, b in pairs}))
    except (TypeError, ValueError):
      raise ConfigError(message) from None
    if any(a == b or a < 0 for a, b in canonical):
      raise ConfigError(message)
    object.__setattr__(self, "exclude_pairs", canonical)
    if not canonical:
      return
    if not method.mixes or not method.has_stage:
      raise ConfigError(f"exclude_pairs needs a mixing method, not {self.method!r}")
    if self.classes is not None:
      outside = sorted({c for pair in canonical for c in pair} - set(self.classes))
      if outside:
        raise ConfigError(f"exclude_pairs names class(es) {outside} outside the run's classes {list(self.classes)}")

  def stage_options(self, initial_epoch: int = 0) -> dict:
    """The stage options every method's stage gets from this config (`tfmixup.datasets.paired`'s options)."""
    options = dict(
      batch_size=self.batch_size, seed=self.seed, label_smoothing=self.label_smoothing, initial_epoch=initial_epoch
    )
    if self.sorted_buffer is not None:
      options["sorted_buffer"] = self.sorted_buffer
    if self.exclude_pairs:
      options["exclude_pairs"] = self.stage_pairs()
    return options

  def stage_pairs(self) -> tuple[tuple[int, int], ...]:
    """`exclude_pairs` as the stage sees the labels (positions in `classes` once a subset is relabelled)."""
    if self.classes is None:
      return self.exclude_pairs
    return tuple((self.classes.index(a), self.classes.index(b)) for a, b in self.exclude_pairs)

  def schedule(self) -> "Schedule | None":
    """The epochs that mix, as a `tfmixup.datasets.Schedule` (None: all of them)."""
    if not (self.mix_start or self.mix_on or self.off_last):
      return None
    from tfmixup.datasets import Schedule  # noqa: PLC0415

    stop = self.epochs - self.off_last if self.off_last else None
    return Schedule(start=self.mix_start, stop=stop, on=self.mix_on or None, off=self.mix_off)

  @property
  def subset(self) -> str:
    return subset_name(self.classes)

  @property
  def run_name(self) -> str:
    """A file-name-safe identifier of everything but the seed-independent knobs."""
    parts = [self.dataset, self.subset, self.method]
    method = self.method_spec
    if method.reads_alpha:
      parts.append(f"a{self.alpha:g}")
    if method.uses_teacher and self.teacher != "nn":
      parts.append("t" + re.sub(r"[^A-Za-z0-9_.]", "_", os.path.basename(self.teacher)[: -len(".keras")]))
    # Options away from their defaults, so that runs that differ never share a name.
    defaults = TrainConfig.__dataclass_fields__
    for field, tag in (("cutmix_alpha", "ca"), ("switch_prob", "sw"), ("prob", "p"), ("label_smoothing", "ls")):
      if getattr(self, field) != defaults[field].default:
        parts.append(f"{tag}{getattr(self, field):g}")
    if self.schedule() is not None:
      parts.append(f"s{self.mix_start}.{self.mix_on}.{self.mix_off}.{self.off_last}")
    for field, tag in (("train_per_class", "n"), ("fraction", "f"), ("sorted_buffer", "sb"), ("input_scale", "x")):
      if getattr(self, field) != defaults[field].default:
        parts.append(f"{tag}{getattr(self, field):g}")
    if self.exclude_pairs:
      parts.append("xp" + "_".join(f"{a}.{b}" for a, b in self.exclude_pairs))
    for knob, value in self.method_args:
      text = f"{value:g}" if numeric.real(value) is not None else str(value)
      parts.append(re.sub(r"[^A-Za-z0-9_.]", "_", f"{knob}{text}"))
    return "-".join(parts) + f"-seed{self.seed}"

  @property
  def config_hash(self) -> str:
    """10 hex digits of SHA-256 over the fields away from their defaults (`to_dict`, sorted keys, JSON).

    Every field counts, so configs that differ in anything differ here; a
    field added later with a default leaves every existing hash as it was.
    """
    # The defaults as `to_dict` writes them (a tuple default is a JSON list there).
    defaults = {f.name: _as_json(f.default) for f in dataclasses.fields(self)}
    defaults["method_args"] = {}  # (a dict in `to_dict`)
    changed = {name: _as_json(value) for name, value in self.to_dict().items() if _as_json(value) != defaults[name]}
    text = json.dumps(changed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]

  @property
  def run_id(self) -> str:
    """The run's identity in file names: `run_name` (readable) and `config_hash` (everything), e.g.
    "mnist-47-erm-seed0-1a2b3c4d5e". Runs saved by tfmixup 0.2.0-0.5.0 are named by `run_name` alone
    (`tfmixup.training.result_path` still finds them)."""
    return f"{self.run_name}-{self.config_hash}"

  def to_dict(self) -> dict:
    d = dataclasses.asdict(self)
    d["classes"] = list(self.classes) if self.classes is not None else None
    d["exclude_pairs"] = [list(pair) for pair in self.exclude_pairs]
    d["method_args"] = dict(self.method_args)
    return d

  @classmethod
  def from_dict(cls, d: dict) -> "TrainConfig":
    d = dict(d)
    if d.get("classes") is not None:
      d["classes"] = tuple(d["classes"])
    if "exclude_pairs" in d:
      d["exclude_pairs"] = tuple(tuple(pair) for pair in d["exclude_pairs"])
    return cls(**d)


def field_help() -> dict[str, str]:
  """Each `TrainConfig` field's description, from the class docstring's Attributes (the flags' help)."""
  doc = inspect.getdoc(TrainConfig) or ""
  helps: dict[str, list[str]] = {}
  name = None
  for line in doc.split("Attributes:", 1)[-1].splitlines():
    field = re.match(r"^  (\w+): (.*)$", line)
    if field:
      name = field.group(1)
      helps[name] = [field.group(2)]
    elif name and line.startswith("    "):
      helps[name].append(line.strip())
    elif line.strip():
      name = None
  return {name: " ".join(parts) for name, parts in helps.items()}
