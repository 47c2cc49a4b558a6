"""The study's classifier: three ReLU Conv2D layers and a dense classifier.

Choices (the study gives none): 3x3 kernels with 32, 64, 64 filters, 2x2
max pooling after the first two convolutions, then Flatten and one Dense
layer producing logits. On 28x28 MNIST with 10 classes this is about 2.8 M
multiply-adds per image and 61,514 parameters (`tests/test_model.py` counts
them); it reaches ~99% on MNIST in a few epochs and trains an epoch of 60k
images in 10-27 s on a 2-core CPU (by how busy the host is), which keeps a
multi-seed grid within one to two hours. Pooling is what makes it cheap: without it
the third convolution alone costs 10x more.
"""

from collections.abc import Sequence

import keras


def build_model(
  input_shape: Sequence[int],
  num_classes: int,
  filters: Sequence[int] = (32, 64, 64),
  input_scale: float = 1.0,
) -> keras.Sequential:
  """Builds the three-conv classifier.

  Args:
    input_shape: `[H, W, C]` of one image.
    num_classes: K, the number of output logits.
    filters: widths of the three convolutions.
    input_scale: multiply the inputs by this first (a `Rescaling` layer,
      no weights); 255 turns [0, 1] images into the 0-255 inputs of an
      unnormalized pipeline. 1: no such layer.

  Returns:
    An uncompiled `keras.Sequential` mapping float32 `[B, H, W, C]` images to
    logits `[B, K]`.
  """
  if len(filters) != 3:
    raise ValueError(f"filters must name three widths, got {tuple(filters)}")
  rescale = [] if input_scale == 1 else [keras.layers.Rescaling(input_scale)]
  return keras.Sequential(
    [
      keras.Input(shape=tuple(input_shape)),
      *rescale,
      keras.layers.Conv2D(filters[0], 3, activation="relu"),
      keras.layers.MaxPooling2D(2),
      keras.layers.Conv2D(filters[1], 3, activation="relu"),
      keras.layers.MaxPooling2D(2),
      keras.layers.Conv2D(filters[2], 3, activation="relu"),
      keras.layers.Flatten(),
      keras.layers.Dense(num_classes),
    ],
    name="three_conv",
  )
