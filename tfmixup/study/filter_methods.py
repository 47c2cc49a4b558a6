"""The study's methods: Mixup with "manifold intrusion" filtered out, and its control (a causal test).

Registered into `tfmixup.methods` from here (the registry lists this
module, so that `--method=mixup_filtered` works from the command line):
Mixup with the judge's intruders dropped, relabelled, or (the control) as
many non-intruding mixes of the same class pair and λ bin dropped
(`filtering.py`). The judge is `TrainConfig.teacher` (`judge`).
"""

from __future__ import annotations

import os
import zipfile
from typing import TYPE_CHECKING

from tfmixup import lazy
from tfmixup.errors import ConfigError
from tfmixup.methods.registry import Method, register

if TYPE_CHECKING:
  from tfmixup.config import TrainConfig
  from tfmixup.datasets import ImageArrays

filtering = lazy.Module("tfmixup.study.filtering")
judges = lazy.Module("tfmixup.study.judges")


def judge(config: TrainConfig, train: ImageArrays):
  """The judge of the intrusion-filtering methods: `config.teacher` over the run's training split.

  "nn": the nearest training image's label (`judges.nearest_neighbour_judge`);
  otherwise the saved Keras model at that path (`judges.model_judge`).

  Raises:
    ConfigError: the teacher file is missing or not a Keras model, or its
      model takes another image shape or has another number of classes.
  """
  if config.teacher == "nn":
    return judges.nearest_neighbour_judge(train)
  if not os.path.isfile(config.teacher):
    raise ConfigError(f"teacher model {config.teacher!r} not found")
  import keras  # noqa: PLC0415 - TensorFlow loads only when a run builds its data

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
  return judges.model_judge(model)


def _filtered(mode: str):
  def stage(data, config: TrainConfig, **options):
    return filtering.intrusion_filtered_mixup(
      data, judge=judge(config, data), mode=mode, alpha=config.alpha, prob=config.prob, **options
    )

  return stage


for _name, _label, _mode in (
  ("mixup_filtered", "Mixup, intrusion dropped", "drop"),
  ("mixup_relabeled", "Mixup, intrusion relabelled", "relabel"),
  ("mixup_random_drop", "Mixup, random drop (control)", "control"),
):
  register(Method(name=_name, label=_label, stage=_filtered(_mode), uses_alpha=True, uses_teacher=True))
