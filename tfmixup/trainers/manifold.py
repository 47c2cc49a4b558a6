"""Manifold Mixup (Verma et al., ICML 2019): mix hidden states at a layer the stage draws per batch.

The stage (`tfmixup.datasets.manifold_pairs`) draws, per batch and from
the config's seed, λ ~ Beta(α, α) and a mixing point; the trainer runs both
batches through the layers before that point, mixes the hidden states with
λ and runs the rest of the classifier on the mix. The point is data, an
int32 scalar chosen at run time by `keras.ops.switch` (`tf.switch_case`,
`jax.lax.switch`): one traced or compiled step mixes at every point. Public
TF/Keras versions draw the layer with Python's `random` inside `call`,
which `tf.function` freezes at trace time.
"""

import functools

import keras
from keras import ops

from tfmixup.methods.manifold_mixup import NUM_MIXING_POINTS


def mixing_points(model: keras.Sequential, num_points: int = NUM_MIXING_POINTS) -> tuple[int, ...]:
  """Where Manifold Mixup may mix in `model`: indices into `model.layers` of the first layer run on the mix.

  Point 0 is the input (index 0, before any layer, so a leading
  `Rescaling` runs on the mix: it is affine, so mixing before or after it
  is the same); point k >= 1 is right after the model's k-th
  `MaxPooling2D` (the end of its k-th conv block). Found by layer type,
  not by position.

  Raises:
    ValueError: the model has fewer than `num_points - 1` pooling layers.
  """
  after_pools = [i + 1 for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.MaxPooling2D)]
  if len(after_pools) < num_points - 1:
    raise ValueError(f"{model.name} has {len(after_pools)} pooling layers; {num_points} mixing points need more")
  return (0, *after_pools[: num_points - 1])


class ManifoldMixupTrainer(keras.Model):
  """Trains a `keras.Sequential` classifier with Manifold Mixup.

  Takes the batches of `tfmixup.datasets.manifold_pairs` and returns the
  logits of the mixed batch, which the compiled loss scores against the
  stage's mixed label rows. It shares `model`'s layers and has no weights
  of its own. The device feed does not apply (the batches are not images).

  Args:
    model: the classifier, a `keras.Sequential` of images `[B, H, W, C]` to logits `[B, K]`.
    num_points: the mixing points (`mixing_points`); the stage's layer index selects one.
  """

  def __init__(self, model: keras.Sequential, num_points: int = NUM_MIXING_POINTS, **kwargs) -> None:
    super().__init__(name=kwargs.pop("name", f"{model.name}_manifold_mixup"), **kwargs)
    self.classifier = model
    self.points = mixing_points(model, num_points)
    self.built = True  # the classifier is built; the trainer adds no weights

  def _run(self, x, start: int, stop: int | None, training: bool):
    for layer in self.classifier.layers[start:stop]:
      x = layer(x, training=training)
    return x

  def mixed_logits(self, images, partners, lam, point: int, training: bool = False):
    """The logits of `images` and `partners` mixed at mixing point `point` (a Python int).

    Args:
      images: float32 `[B, H, W, C]`.
      partners: float32 `[B, H, W, C]`.
      lam: float32 `[B, 1]` (or `[B]`), the weight of `images`.
      point: index into `points`.
      training: passed to the layers.

    Returns:
      float32 logits `[B, K]`.
    """
    start = self.points[point]
    lam = ops.reshape(ops.cast(lam, "float32"), (-1, 1, 1, 1))  # every mixing point is [B, h, w, c]
    hidden_a = self._run(images, 0, start, training)
    hidden_b = self._run(partners, 0, start, training)
    return self._run(lam * hidden_a + (1.0 - lam) * hidden_b, start, None, training)

  def call(self, inputs: dict, training: bool = False):
    """Logits `[B, K]` of the batch mixed at its drawn point.

    Args:
      inputs: `{"images": [B, H, W, C], "partners": [B, H, W, C], "lam":
        [B, 1], "layer": int32 []}` (`manifold_pairs`); a layer index out of
        range is clamped (`keras.ops.switch`).
      training: passed to the layers.
    """
    branches = [functools.partial(self._branch, point=point, training=training) for point in range(len(self.points))]
    layer = ops.reshape(ops.cast(inputs["layer"], "int32"), ())
    return ops.switch(layer, branches, inputs["images"], inputs["partners"], inputs["lam"])

  def _branch(self, images, partners, lam, *, point: int, training: bool):
    return self.mixed_logits(images, partners, lam, point, training)
