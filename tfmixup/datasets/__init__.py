"""tfmixup.datasets: mixing methods as tf.data stages, and the data they mix.

The public names, by what they are for:

- `load`, `load_arrays`, `select_classes`, `ImageArrays`: data sources (TFDS or IDX files).
- `mixup`, `cutmix`, `mixup_cutmix`, `pair_sampling`: the mixing stages (each defined with its method in
  `tfmixup.methods`; any registered method's stage function, e.g. `resizemix`, is also found here by name).
- `paired`: a stage for your own mixing function; `batches`: plain batches (training without mixing,
  evaluation).
- `manifold_pairs`, `adamixup_batches`, `mixup_clean_half`: the stages of the remedies for intrusion
  (the models mix).
- `device_mixup`, `device_cutmix`, `device_mixup_cutmix`, `device_pair_sampling`, `device_batches`,
  `DeviceFeed`, `ResidentImages`: the same batches mixed on the accelerator, the data resident on the device.
- `Schedule`: the epochs a stage mixes in; `epoch_counter`: a stage's epoch counter (for resuming).
- `mix_batches`, `cut_batches`, `mix_or_cut_batches`, `pair_batches`, `smooth_labels`: the pure
  arithmetic; `sample_beta`, `sample_boxes`: stateless draws; `check_alpha`: the check of a Beta
  concentration.
- `read_idx`, `write_idx`: the IDX format.
- `DataError`, `IdxFormatError`, `DataUnavailableError`, `LabelError`: the errors.

The study's instruments moved to `tfmixup.study` in 0.6.0 (the names still
work here, with a DeprecationWarning): intrusion_filtered_mixup and
intrusion_flags (`tfmixup.study.filtering`), nearest_neighbour_judge and
model_judge (`tfmixup.study.judges`).
"""

from tfmixup.checks import alpha as check_alpha
from tfmixup.datasets.device_feed import (
  DeviceFeed,
  ResidentImages,
  device_batches,
  device_cutmix,
  device_mixup,
  device_mixup_cutmix,
  device_pair_sampling,
)
from tfmixup.datasets.draws import sample_beta, sample_boxes
from tfmixup.datasets.errors import DataError, DataUnavailableError, IdxFormatError, LabelError
from tfmixup.datasets.idx import read_idx, write_idx
from tfmixup.datasets.mixing import cut_batches, mix_batches, mix_or_cut_batches, pair_batches, smooth_labels
from tfmixup.datasets.remedies import adamixup_batches, manifold_pairs, mixup_clean_half
from tfmixup.datasets.schedules import Schedule
from tfmixup.datasets.sources import ImageArrays, load, load_arrays, select_classes
from tfmixup.datasets.stages import batches, cutmix, epoch_counter, mixup, mixup_cutmix, pair_sampling, paired

__all__ = [
  "DataError",
  "DeviceFeed",
  "DataUnavailableError",
  "IdxFormatError",
  "ImageArrays",
  "LabelError",
  "ResidentImages",
  "Schedule",
  "adamixup_batches",
  "batches",
  "check_alpha",
  "cut_batches",
  "cutmix",
  "device_batches",
  "device_cutmix",
  "device_mixup",
  "device_mixup_cutmix",
  "device_pair_sampling",
  "epoch_counter",
  "load",
  "load_arrays",
  "manifold_pairs",
  "mix_batches",
  "mix_or_cut_batches",
  "mixup",
  "mixup_clean_half",
  "mixup_cutmix",
  "pair_batches",
  "pair_sampling",
  "paired",
  "read_idx",
  "sample_beta",
  "sample_boxes",
  "select_classes",
  "smooth_labels",
  "write_idx",
]

# Names that moved to the study in 0.6.0: module -> names.
_MOVED = {
  "tfmixup.study.filtering": ("intrusion_filtered_mixup", "intrusion_flags"),
  "tfmixup.study.judges": ("model_judge", "nearest_neighbour_judge"),
}


def __getattr__(name: str):
  """The study's moved names (with a DeprecationWarning), and any registered method's stage function by name."""
  import importlib  # noqa: PLC0415
  import warnings  # noqa: PLC0415

  for module, moved in _MOVED.items():
    if name in moved:
      warnings.warn(
        f"tfmixup.datasets.{name} moved to {module}.{name} in tfmixup 0.6.0", DeprecationWarning, stacklevel=2
      )
      return getattr(importlib.import_module(module), name)
  from tfmixup import methods  # noqa: PLC0415

  for method_name in methods.names():
    function = methods.get(method_name).function
    if function is not None and function.__name__ == name:
      return function
  raise AttributeError(f"module 'tfmixup.datasets' has no attribute {name!r}")
