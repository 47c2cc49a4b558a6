"""tfmixup.datasets: mixing methods as tf.data stages, and the data they mix.

Public API:
  load, load_arrays, select_classes, ImageArrays     data sources (TFDS or IDX)
  mixup, cutmix, mixup_cutmix, pair_sampling         mixing stages
  paired                                             a stage for your own mixing function
  manifold_pairs, adamixup_batches, mixup_clean_half stages of the remedies for intrusion (models mix)
  intrusion_filtered_mixup, intrusion_flags          Mixup with intruding mixes dropped/relabelled, or a matched control
  nearest_neighbour_judge, model_judge               judges: the class an image looks like
  batches                                            plain batches (training without mixing, evaluation)
  device_mixup, device_pair_sampling,                the same batches mixed on the accelerator
  device_batches, DeviceFeed, ResidentImages         (data resident on the device)
  Schedule                                           the epochs a stage mixes in
  epoch_counter                                      a stage's epoch counter (for resuming)
  mix_batches, cut_batches, mix_or_cut_batches,      the pure arithmetic
  pair_batches, smooth_labels
  sample_beta, sample_boxes                          stateless draws
  read_idx, write_idx                                the IDX format
  DataError, IdxFormatError, DataUnavailableError, LabelError
"""

from tfmixup.datasets.device_feed import (
  DeviceFeed,
  ResidentImages,
  device_batches,
  device_mixup,
  device_pair_sampling,
)
from tfmixup.datasets.draws import sample_beta, sample_boxes
from tfmixup.datasets.errors import DataError, DataUnavailableError, IdxFormatError, LabelError
from tfmixup.datasets.filtering import intrusion_filtered_mixup, intrusion_flags
from tfmixup.datasets.idx import read_idx, write_idx
from tfmixup.datasets.judges import model_judge, nearest_neighbour_judge
from tfmixup.datasets.mixers import check_alpha
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
  "device_mixup",
  "device_pair_sampling",
  "epoch_counter",
  "intrusion_filtered_mixup",
  "intrusion_flags",
  "load",
  "load_arrays",
  "manifold_pairs",
  "mix_batches",
  "mix_or_cut_batches",
  "mixup",
  "mixup_clean_half",
  "mixup_cutmix",
  "model_judge",
  "nearest_neighbour_judge",
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
