"""The method registry: what `TrainConfig.method` and `--method` select (TF-free).

A method is a data stage (how the training batches are made; none: plain
shuffled batches) and optional model parts: `wrap_model` wraps or replaces
the model (which still takes images), and `trainer` builds the model that
is compiled and fitted on the stage while the model is evaluated and saved,
for methods that act inside the model (Manifold Mixup, AdaMixUp: see
`tfmixup.trainers`).

A mixing method is usually a `Mixer` (`mixer.py`) and the public stage
function that mixes with it, registered in one module of this package
(see `resizemix.py` for a whole method in one file):

  register(Method(name="my_mix", label="my mix", function=my_mix, mixer=MyMixer))

Its knobs are the mixer's fields: `TrainConfig(method="my_mix",
method_args=(("knob", 0.5),))`, `train_main.py --method=my_mix
--method_args=knob=0.5`. The older form, a stage of the whole config,
still works in user code:

  register(Method(name="my_mix", label="my mix",
                  stage=lambda data, config, **options: datasets.paired(data, my_combine, **options)))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tfmixup import lazy
from tfmixup.errors import ConfigError

if TYPE_CHECKING:
  import keras
  import tensorflow as tf

  from tfmixup import datasets
  from tfmixup.config import TrainConfig
  from tfmixup.methods.mixer import Mixer

_datasets = lazy.Module("tfmixup.datasets")

Stage = Callable[..., "tf.data.Dataset"]
"""A stage: `(data, ..., batch_size=, seed=, label_smoothing=, schedule=, initial_epoch=, ...) -> tf.data.Dataset`."""

# The legacy config fields every method may read, by the knob they set (`Method.config_knobs`).
CONFIG_KNOBS = ("alpha", "cutmix_alpha", "switch_prob", "prob")


@dataclasses.dataclass(frozen=True)
class Method:
  """A training method.

  Attributes:
    name: the registry key (`--method=<name>`); lower case, no spaces.
    label: the name in tables and plots.
    function: the public stage function, `function(data, *, batch_size,
      seed, **knobs, **options) -> tf.data.Dataset` of `(images [B, H, W,
      C], labels [B, K])`, whose knobs are `mixer`'s fields; it trains on
      `function(data, **knobs(config), **options)`.
    mixer: the `Mixer` subclass whose fields are the method's knobs: they
      are checked by building one (TF-free) when a config is made. A mixer
      that declares `device_inputs` (Mixup, CutMix, ...) gives the method a
      device feed.
    config_knobs: knob name -> `TrainConfig` field that sets it (the flags
      `--alpha`, `--prob`, ... of earlier versions), e.g. {"alpha":
      "alpha", "prob": "prob"}; other knobs come from `config.method_args`.
    stage: `stage(data, config, **options) -> tf.data.Dataset`, a stage of
      the whole config (the form of tfmixup 0.5.0; used when `function` is
      None). Neither: plain shuffled batches.
    wrap_model: `wrap_model(model, config) -> keras.Model`, applied to the
      uncompiled model before `compile`; None: the model as built.
    device_feed: `device_feed(data, config, **options) -> DeviceFeed`, the
      same batches with the data resident on the device; None: the
      mixer's (for a mixer with `device_inputs`), else none.
    trainer: `trainer(model, config) -> keras.Model`: given the method's
      model (it takes images), the model that is compiled and fitted on the
      stage; it shares the model's layers and weights and may add weights of
      its own (checkpointed with it), and it is a `keras.Model` whose `call`
      takes the stage's batches (see `tfmixup.trainers`). The model itself
      is evaluated and saved. None: the model is fitted itself. A method
      with a trainer has no device feed and trains on one worker.
    check_config: `check_config(config)` raises `ConfigError` for settings
      the method cannot take (`TrainConfig` calls it); None: no checks.
    mixes: whether the stage mixes examples (schedules apply only then).
    uses_alpha: whether `config.alpha` matters (it then appears in run
      names); also True when `config_knobs` reads "alpha".
    uses_teacher: whether `config.teacher` matters (a model teacher then
      appears in run names).
  """

  name: str
  label: str
  function: Stage | None = None
  mixer: type[Mixer] | None = None
  config_knobs: Mapping[str, str] = dataclasses.field(default_factory=dict)
  stage: Stage | None = None
  wrap_model: Callable[[keras.Model, TrainConfig], keras.Model] | None = None
  device_feed: Callable[..., datasets.DeviceFeed] | None = None
  trainer: Callable[[keras.Model, TrainConfig], keras.Model] | None = None
  check_config: Callable[[TrainConfig], None] | None = None
  mixes: bool = True
  uses_alpha: bool = False
  uses_teacher: bool = False

  @property
  def reads_alpha(self) -> bool:
    """Whether `config.alpha` sets one of the method's knobs (it is then part of run names)."""
    return self.uses_alpha or "alpha" in self.config_knobs.values()

  @property
  def has_stage(self) -> bool:
    """Whether the method has a stage of its own (else it trains on plain shuffled batches)."""
    return self.function is not None or self.stage is not None

  @property
  def has_device_feed(self) -> bool:
    """Whether the method can train through a device feed (`feed="device"`)."""
    return self.device_feed is not None or (self.mixer is not None and bool(self.mixer.device_inputs()))

  def knob_names(self) -> tuple[str, ...]:
    """The method's knobs: its mixer's fields (none without a mixer)."""
    return () if self.mixer is None else tuple(f.name for f in dataclasses.fields(self.mixer) if f.init)

  def check_args(self, args: Mapping[str, Any], error: type[ValueError] = ConfigError) -> dict:
    """The knobs `args` as the mixer takes them, checked by building one (TF-free).

    Raises:
      error: an unknown knob (the message lists them) or a bad value.
    """
    names = self.knob_names()
    unknown = sorted(set(args) - set(names))
    if unknown:
      takes = f"its knobs are {', '.join(names)}" if names else "it has none"
      raise error(f"method {self.name!r} has no knob {', '.join(unknown)}; {takes}")
    if self.mixer is None:
      return {}
    try:
      mixer = self.mixer(**args)
    except ValueError as e:
      raise error(str(e)) from None
    return {name: getattr(mixer, name) for name in args}

  def knobs(self, config: TrainConfig) -> dict:
    """The knobs `config` sets: those of `config_knobs` from its fields, and its `method_args`."""
    knobs = {knob: getattr(config, field) for knob, field in self.config_knobs.items()}
    knobs.update(config.method_args)
    return knobs

  def training_data(
    self, data: datasets.ImageArrays, config: TrainConfig, initial_epoch: int = 0, **options
  ) -> tf.data.Dataset:
    """The batches this method trains on: the method's stage with the config's common options (and `options`)."""
    options = {**config.stage_options(initial_epoch), **options}
    if self.function is not None:
      return self.function(data, schedule=config.schedule(), **self.knobs(config), **options)
    if self.stage is not None:
      return self.stage(data, config, schedule=config.schedule(), **options)
    return _datasets.batches(data, **options)

  def device_training_data(
    self, data: datasets.ImageArrays, config: TrainConfig, initial_epoch: int = 0, **options
  ) -> datasets.DeviceFeed:
    """The same batches as `training_data`, through the method's device feed.

    Raises:
      ConfigError: the method has no device feed.
    """
    if not self.has_device_feed:
      raise ConfigError(f"method {self.name!r} has no device feed")
    options = {**config.stage_options(initial_epoch), **options}
    if self.has_stage:
      options["schedule"] = config.schedule()
    if self.device_feed is not None:
      return self.device_feed(data, config, **options)
    return _datasets.device_feed.feed(data, self.mixer(**self.knobs(config)), **options)

  def model(self, model: keras.Model, config: TrainConfig) -> keras.Model:
    """The model to compile: `wrap_model`'s result, or `model` itself."""
    return model if self.wrap_model is None else self.wrap_model(model, config)

  def training_model(self, model: keras.Model, config: TrainConfig) -> keras.Model:
    """The model to compile and fit on the stage: `trainer`'s result, or `model` itself."""
    return model if self.trainer is None else self.trainer(model, config)


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
  """Adds a method to the registry (replacing one of the same name) and returns it."""
  if not isinstance(method, Method):
    raise TypeError(f"register takes a tfmixup.methods.Method, got {type(method).__name__}")
  if not method.name or not method.name.isidentifier() or method.name != method.name.lower():
    raise ValueError(f"method names are lower-case identifiers, got {method.name!r}")
  if method.function is not None and method.stage is not None:
    raise ValueError(f"method {method.name!r}: give a function or a stage, not both")
  unknown = sorted(set(method.config_knobs.values()) - set(CONFIG_KNOBS))
  if unknown or not set(method.config_knobs) <= set(method.knob_names()):
    raise ValueError(
      f"method {method.name!r}: config_knobs maps the mixer's fields to {', '.join(CONFIG_KNOBS)}, "
      f"got {dict(method.config_knobs)}"
    )
  _REGISTRY[method.name] = method
  return method


def names() -> tuple[str, ...]:
  """The registered method names, sorted."""
  return tuple(sorted(_REGISTRY))


def get(name: str) -> Method:
  """The method registered as `name`.

  Raises:
    ConfigError: no such method; the message lists the names.
  """
  try:
    return _REGISTRY[name]
  except (KeyError, TypeError):
    raise ConfigError(f"unknown method {name!r}; choose one of: {', '.join(names())}") from None


def even_batches(config: TrainConfig) -> None:
  """A `check_config` for methods that split each batch in halves (m mixed, m clean)."""
  if config.batch_size % 2:
    raise ConfigError(f"method {config.method!r} needs an even batch_size (m mixed, m clean), got {config.batch_size}")
