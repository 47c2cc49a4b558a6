"""Training methods, registered by name: what `TrainConfig.method` and `--method` select.

A method is a data stage (how the training batches are made; None: plain
shuffled batches) and optional model parts: `wrap_model` wraps or replaces
the model (which still takes images), and `trainer` builds the model that
is compiled and fitted on the stage while the model is evaluated and saved,
for methods that act inside the model (Manifold Mixup, AdaMixUp: see
`tfmixup.trainers`). A new method is one `register(Method(...))` call,
here or in the user's code:

  methods.register(methods.Method(
      name="my_mix", label="my mix",
      stage=lambda data, config, **options: datasets.paired(data, my_combine, **options)))

and then `TrainConfig(method="my_mix")` / `train_main.py --method=my_mix`.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from tfmixup.config import ConfigError, TrainConfig

if TYPE_CHECKING:
  import keras
  import tensorflow as tf

  from tfmixup import datasets

# Imported without TensorFlow, so that a config (and a flag) naming an
# unknown method fails at once; the built-in methods import
# `tfmixup.datasets` when they first build data.

# (training data, config, batch_size=, seed=, label_smoothing=, schedule=, initial_epoch=) -> batches
Stage = Callable[..., "tf.data.Dataset"]


def _datasets():
  from tfmixup import datasets  # noqa: PLC0415 - imports TensorFlow

  return datasets


@dataclasses.dataclass(frozen=True)
class Method:
  """A training method.

  Attributes:
    name: the registry key (`--method=<name>`); lower case, no spaces.
    label: the name in tables and plots.
    stage: `stage(data, config, **options) -> tf.data.Dataset` of
      `(images [B, H, W, C], labels [B, K])`, where `options` are the stage
      options `tfmixup.datasets` stages take (batch_size, seed,
      label_smoothing, schedule, initial_epoch); None: plain shuffled batches.
    wrap_model: `wrap_model(model, config) -> keras.Model`, applied to the
      uncompiled model before `compile`; None: the model as built.
    device_feed: `device_feed(data, config, **options) -> DeviceFeed`, the
      same batches with the data resident on the device
      (`tfmixup.datasets.device_feed`); None: the method has none.
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
    uses_alpha: whether `config.alpha` matters (it then appears in run names).
    uses_teacher: whether `config.teacher` matters (a model teacher then
      appears in run names).
  """

  name: str
  label: str
  stage: Stage | None = None
  wrap_model: Callable[[keras.Model, TrainConfig], keras.Model] | None = None
  device_feed: Callable[..., datasets.DeviceFeed] | None = None
  trainer: Callable[[keras.Model, TrainConfig], keras.Model] | None = None
  check_config: Callable[[TrainConfig], None] | None = None
  mixes: bool = True
  uses_alpha: bool = False
  uses_teacher: bool = False

  def training_data(
    self, data: datasets.ImageArrays, config: TrainConfig, initial_epoch: int = 0, **options
  ) -> tf.data.Dataset:
    """The batches this method trains on: the method's stage with the config's common options (and `options`)."""
    options = {**_options(config, initial_epoch), **options}
    if self.stage is None:
      return _datasets().batches(data, **options)
    return self.stage(data, config, schedule=config.schedule(), **options)

  def device_training_data(
    self, data: datasets.ImageArrays, config: TrainConfig, initial_epoch: int = 0, **options
  ) -> datasets.DeviceFeed:
    """The same batches as `training_data`, through the method's device feed.

    Raises:
      ConfigError: the method has no device feed.
    """
    if self.device_feed is None:
      raise ConfigError(f"method {self.name!r} has no device feed")
    options = {**_options(config, initial_epoch), **options}
    if self.stage is not None:
      options["schedule"] = config.schedule()
    return self.device_feed(data, config, **options)

  def model(self, model: keras.Model, config: TrainConfig) -> keras.Model:
    """The model to compile: `wrap_model`'s result, or `model` itself."""
    return model if self.wrap_model is None else self.wrap_model(model, config)

  def training_model(self, model: keras.Model, config: TrainConfig) -> keras.Model:
    """The model to compile and fit on the stage: `trainer`'s result, or `model` itself."""
    return model if self.trainer is None else self.trainer(model, config)


def _options(config: TrainConfig, initial_epoch: int) -> dict:
  options = dict(
    batch_size=config.batch_size,
    seed=config.seed,
    label_smoothing=config.label_smoothing,
    initial_epoch=initial_epoch,
  )
  if config.sorted_buffer is not None:
    options["sorted_buffer"] = config.sorted_buffer
  if config.exclude_pairs:
    options["exclude_pairs"] = config.stage_pairs()
  return options


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
  """Adds a method to the registry (replacing one of the same name) and returns it."""
  if not isinstance(method, Method):
    raise TypeError(f"register takes a tfmixup.methods.Method, got {type(method).__name__}")
  if not method.name or not method.name.isidentifier() or method.name != method.name.lower():
    raise ValueError(f"method names are lower-case identifiers, got {method.name!r}")
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


register(
  Method(
    name="erm",
    label="without",
    device_feed=lambda data, c, **o: _datasets().device_batches(data, **o),
    mixes=False,
  )
)
register(
  Method(
    name="mixup",
    label="Mixup",
    stage=lambda data, c, **o: _datasets().mixup(data, alpha=c.alpha, prob=c.prob, **o),
    device_feed=lambda data, c, **o: _datasets().device_mixup(data, alpha=c.alpha, prob=c.prob, **o),
    uses_alpha=True,
  )
)
register(
  Method(
    name="cutmix",
    label="CutMix",
    stage=lambda data, c, **o: _datasets().cutmix(data, alpha=c.alpha, prob=c.prob, **o),
    uses_alpha=True,
  )
)
register(
  Method(
    name="mixup_cutmix",
    label="Mixup or CutMix",
    stage=lambda data, c, **o: _datasets().mixup_cutmix(
      data, mixup_alpha=c.alpha, cutmix_alpha=c.cutmix_alpha, switch_prob=c.switch_prob, prob=c.prob, **o
    ),
    uses_alpha=True,
  )
)
register(
  Method(
    name="pair_sampling",
    label="pair sampling",
    stage=lambda data, c, **o: _datasets().pair_sampling(data, prob=c.prob, **o),
    device_feed=lambda data, c, **o: _datasets().device_pair_sampling(data, prob=c.prob, **o),
  )
)


def _even_batches(config: TrainConfig) -> None:
  if config.batch_size % 2:
    raise ConfigError(f"method {config.method!r} needs an even batch_size (m mixed, m clean), got {config.batch_size}")


def _trainers():
  from tfmixup import trainers  # noqa: PLC0415 - imports Keras and TensorFlow

  return trainers


# The remedies for intrusion (ANCHORS.md): Manifold Mixup, AdaMixUp and AdaMixUp's control.
register(
  Method(
    name="manifold_mixup",
    label="Manifold Mixup",
    stage=lambda data, c, **o: _datasets().manifold_pairs(data, alpha=c.alpha, **o),
    trainer=lambda model, c: _trainers().ManifoldMixupTrainer(model),
    uses_alpha=True,
  )
)
register(
  Method(
    name="adamixup",
    label="AdaMixUp",
    stage=lambda data, c, **o: _datasets().adamixup_batches(data, **o),
    trainer=lambda model, c: _trainers().AdaMixUpTrainer(model),
    check_config=_even_batches,
    mixes=False,  # the stage does not mix (the policy network does, in every batch): no schedules
  )
)
register(
  Method(
    name="mixup_clean_half",
    label="Mixup + clean half",
    stage=lambda data, c, **o: _datasets().mixup_clean_half(data, alpha=c.alpha, **o),
    check_config=_even_batches,
    uses_alpha=True,
  )
)


# Intrusion filtering (a causal test of manifold intrusion): Mixup with the judge's intruders dropped,
# relabelled, or (the control) as many non-intruding mixes of the same class pair and λ bin dropped.
def judge(config: TrainConfig, train: datasets.ImageArrays):
  """The judge of the intrusion-filtering methods: `config.teacher` over the run's training split.

  "nn": the nearest training image's label (`datasets.nearest_neighbour_judge`);
  otherwise the saved Keras model at that path (`datasets.model_judge`).

  Raises:
    ConfigError: the teacher file is missing or not a Keras model, or its
      model takes another image shape or has another number of classes.
  """
  if config.teacher == "nn":
    return _datasets().nearest_neighbour_judge(train)
  if not os.path.isfile(config.teacher):
    raise ConfigError(f"teacher model {config.teacher!r} not found")
  import keras  # noqa: PLC0415

  if not zipfile.is_zipfile(config.teacher):  # (Keras would say "File not found" of a file that exists)
    raise ConfigError(
      f"teacher {config.teacher!r} is not a readable Keras model"
      " (not a .keras zip archive: truncated, or another format)"
    )
  try:
    model = keras.saving.load_model(config.teacher)
  except Exception as e:  # noqa: BLE001 - Keras raises many kinds (ValueError, OSError, zipfile errors...)
    reason = (str(e).strip().splitlines() or [type(e).__name__])[-1]
    raise ConfigError(f"teacher {config.teacher!r} is not a readable Keras model ({reason})") from None
  takes, shape = model.input_shape, train.images.shape
  same_rank = isinstance(takes, tuple) and len(takes) == len(shape)
  if not (same_rank and all(t in (None, s) for t, s in zip(takes[1:], shape[1:], strict=True))):
    raise ConfigError(
      f"teacher {config.teacher!r} takes images of shape {list(takes[1:])}, the data's are {list(shape[1:])}"
    )
  if model.output_shape[-1] != train.num_classes:
    raise ConfigError(
      f"teacher {config.teacher!r} has {model.output_shape[-1]} outputs, the data {train.num_classes} classes"
    )
  return _datasets().model_judge(model)


def _filtered(mode: str) -> Stage:
  def stage(data, c: TrainConfig, **o):
    return _datasets().intrusion_filtered_mixup(data, judge=judge(c, data), mode=mode, alpha=c.alpha, prob=c.prob, **o)

  return stage


register(
  Method(
    name="mixup_filtered", label="Mixup, intrusion dropped", stage=_filtered("drop"), uses_alpha=True, uses_teacher=True
  )
)
register(
  Method(
    name="mixup_relabeled",
    label="Mixup, intrusion relabelled",
    stage=_filtered("relabel"),
    uses_alpha=True,
    uses_teacher=True,
  )
)
register(
  Method(
    name="mixup_random_drop",
    label="Mixup, random drop (control)",
    stage=_filtered("control"),
    uses_alpha=True,
    uses_teacher=True,
  )
)
