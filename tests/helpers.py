"""Shared test data: real MNIST location and small synthetic datasets."""

import os

import numpy as np

from tfmixup.datasets import ImageArrays, write_idx

# Real MNIST beside the project (see ../shared/mnist/README.md). Tests that
# need it fail, not skip, when it is missing.
MNIST_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "mnist")


def coded_arrays(size: int, num_classes: int = 3, shape=(4, 4, 1)) -> ImageArrays:
  """Images whose every pixel equals their index (float32), labels index % K.

  An image's index can be read back from any of its pixels, so tests can tell
  which examples a batch (or a mix of two) came from.
  """
  images = np.broadcast_to(np.arange(size, dtype=np.float32).reshape(-1, 1, 1, 1), (size, *shape)).copy()
  labels = np.arange(size, dtype=np.int64) % num_classes
  return ImageArrays(
    images=images,
    labels=labels,
    class_names=tuple(str(c) for c in range(num_classes)),
    source_classes=tuple(range(num_classes)),
  )


def write_idx_dir(directory: str, train: int = 60, test: int = 20, gz: bool = True, seed: int = 0) -> None:
  """Writes a small MNIST-like IDX dataset (28x28, labels 0-9) to `directory`."""
  rng = np.random.default_rng(seed)
  ext = ".gz" if gz else ""
  for prefix, count in (("train", train), ("t10k", test)):
    write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{ext}"), rng.integers(0, 256, (count, 28, 28)))
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{ext}"), np.arange(count) % 10)
