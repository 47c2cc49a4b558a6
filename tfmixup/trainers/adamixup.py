"""AdaMixUp (Guo, Mao, Zhang, AAAI 2019), as its authors implemented it (SITE5039/AdaMixUp).

Each batch of 2m (`tfmixup.datasets.adamixup_batches`): m first examples
x_a, their partners x_b, m other originals x_c, and u ~ U(0, 1) per pair.

* A policy network (weights of its own: the classifier's trunk architecture
  on the pair concatenated on channels, then Dense(100, relu), Dense(3),
  softmax → (a, b, c)) sets each pair's λ = a + u·b, in [a, a + b]; the
  mix is λ·x_a + (1-λ)·x_b.
* The classifier is scored on [mixes; clean x_a], 2m rows, against
  [λ·y_a + (1-λ)·y_b; y_a].
* An intrusion discriminator, the classifier's trunk (everything but its
  last Dense) with a Dense(2) head of its own, tells the mixes (class 0)
  from the originals x_c (class 1); its cross-entropy is added to the loss
  (`add_loss`).

One optimizer minimises the sum over every weight; the gradient reaches the
policy network through λ (in the mixes and in their label rows).

Labels. The stage cannot know λ, so it yields the label rows of x_a and x_b
as `y`; `call` returns the classifier's logits with λ, and `compute_loss`
and `compute_metrics` build the 2m target rows from them before handing
them, unchanged, to the compiled loss and metrics: the accuracy is against
the argmax of the mixed and clean targets. This works the same under every
backend: λ reaches the loss as an output of `call`, not as state.
"""

import keras
from keras import ops


def _fresh_copy(layer: keras.layers.Layer) -> keras.layers.Layer:
  """A new, unbuilt layer of the same kind and settings (its own weights and name)."""
  config = layer.get_config()
  config.pop("name", None)
  return layer.__class__.from_config(config)


class AdaMixUpTrainer(keras.Model):
  """Trains a `keras.Sequential` classifier with AdaMixUp; the policy and discriminator head are its own weights.

  It takes the batches of `tfmixup.datasets.adamixup_batches`; its outputs
  and the stage's labels are turned into target rows by `compute_loss`
  (see the module docstring). The device feed does not apply (the batches
  are not images).

  Args:
    model: the classifier, a built `keras.Sequential` of images `[B, H, W, C]`
      to logits `[B, K]` whose last layer is a `Dense` (the trunk is every
      layer before it).
    policy_width: units of the policy's hidden Dense layer (the authors': 100).
  """

  def __init__(self, model: keras.Sequential, policy_width: int = 100, **kwargs) -> None:
    super().__init__(name=kwargs.pop("name", f"{model.name}_adamixup"), **kwargs)
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense):
      raise ValueError(f"{model.name}'s last layer must be a Dense classifier head, got {type(head).__name__}")
    self.classifier = model
    height, width, channels = model.input_shape[1:]
    self.policy = keras.Sequential(
      [
        keras.Input(shape=(height, width, 2 * channels)),
        *(_fresh_copy(layer) for layer in model.layers[:-1]),
        keras.layers.Dense(policy_width, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
      ],
      name="policy",
    )
    self.intrusion_head = keras.layers.Dense(2, name="intrusion_head")
    self.intrusion_head.build((None, head.kernel.shape[0]))
    self.built = True  # every weight exists: a checkpoint can be restored before the first step

  def _trunk(self, images, training: bool):
    for layer in self.classifier.layers[:-1]:
      images = layer(images, training=training)
    return images

  def policy_lambdas(self, inputs: dict, training: bool = False):
    """Each pair's λ and the interval the policy allows it.

    Args:
      inputs: a batch of `adamixup_batches` (uses "first", "partners", "u").
      training: passed to the policy's layers.

    Returns:
      `(lam, low, high)`, float32 `[m]` each: λ = a + u·b, low = a, high = a + b.
    """
    pair = ops.concatenate([inputs["first"], inputs["partners"]], axis=-1)
    weights = self.policy(pair, training=training)  # [m, 3]: (a, b, c), a softmax
    low, width = weights[:, 0], weights[:, 1]
    return low + ops.cast(inputs["u"], "float32") * width, low, low + width

  @staticmethod
  def mix(first, partners, lam):
    """λ·x_a + (1-λ)·x_b: float32 `[m, H, W, C]` from two batches and λ `[m]`."""
    lam = ops.reshape(lam, (-1, 1, 1, 1))
    return lam * first + (1.0 - lam) * partners

  @staticmethod
  def targets(labels: dict, lam):
    """The classifier's 2m target rows `[2m, K]`: [λ·y_a + (1-λ)·y_b; y_a].

    Args:
      labels: `{"first_labels": [m, K], "partner_labels": [m, K]}`, the stage's `y`.
      lam: float32 `[m]`.
    """
    first, partners = labels["first_labels"], labels["partner_labels"]
    lam = ops.reshape(lam, (-1, 1))
    return ops.concatenate([lam * first + (1.0 - lam) * partners, first], axis=0)

  def call(self, inputs: dict, training: bool = False) -> dict:
    """The classifier's logits on [mixes; clean x_a] and λ; adds the discriminator's loss.

    Args:
      inputs: `{"first", "partners", "others": float32 [m, H, W, C], "u": float32 [m]}`.
      training: passed to the layers.

    Returns:
      `{"logits": float32 [2m, K], "lam": float32 [m]}`.
    """
    lam, _, _ = self.policy_lambdas(inputs, training)
    mixes = self.mix(inputs["first"], inputs["partners"], lam)
    # One pass of the shared trunk over the mixes, the clean first examples and the other originals.
    features = self._trunk(ops.concatenate([mixes, inputs["first"], inputs["others"]], axis=0), training)
    mixed_features, first_features, other_features = ops.split(features, 3, axis=0)
    logits = self.classifier.layers[-1](ops.concatenate([mixed_features, first_features], axis=0))
    intrusion_logits = self.intrusion_head(ops.concatenate([mixed_features, other_features], axis=0))
    intrusion_labels = ops.concatenate([ops.zeros_like(lam), ops.ones_like(lam)], axis=0)  # mixes 0, originals 1
    self.add_loss(
      ops.mean(keras.losses.sparse_categorical_crossentropy(intrusion_labels, intrusion_logits, from_logits=True))
    )
    return {"logits": logits, "lam": lam}

  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    """The compiled loss on the 2m target rows (`targets`) plus the discriminator's loss."""
    return super().compute_loss(x, self.targets(y, y_pred["lam"]), y_pred["logits"], sample_weight, training)

  def compute_metrics(self, x, y, y_pred, sample_weight=None):
    """The compiled metrics on the 2m target rows (`targets`)."""
    return super().compute_metrics(x, self.targets(y, y_pred["lam"]), y_pred["logits"], sample_weight)
