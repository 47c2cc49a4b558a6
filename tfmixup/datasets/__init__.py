"""tfmixup.datasets: Mixup and pair sampling as tf.data stages, and the data they mix.

Public API:
  load, load_arrays, select_classes, ImageArrays    data sources (TFDS or IDX)
  mixup, pair_sampling, batches                      tf.data stages
  mix_batches, pair_batches                          the pure arithmetic
  sample_beta                                        the stateless λ draw
  read_idx, write_idx                                the IDX format
  DataError, IdxFormatError, DataUnavailableError, LabelError
"""

from tfmixup.datasets.draws import sample_beta
from tfmixup.datasets.errors import DataError, DataUnavailableError, IdxFormatError, LabelError
from tfmixup.datasets.idx import read_idx, write_idx
from tfmixup.datasets.mixing import mix_batches, pair_batches
from tfmixup.datasets.sources import ImageArrays, load, load_arrays, select_classes
from tfmixup.datasets.stages import batches, check_alpha, mixup, pair_sampling

__all__ = [
  "DataError",
  "DataUnavailableError",
  "IdxFormatError",
  "ImageArrays",
  "LabelError",
  "batches",
  "check_alpha",
  "load",
  "load_arrays",
  "mix_batches",
  "mixup",
  "pair_batches",
  "pair_sampling",
  "read_idx",
  "sample_beta",
  "select_classes",
  "write_idx",
]
