"""The plain-JAX reference: what the hardware does with the same model, outside Keras and tf.data.

The three-conv model (`tfmixup.model.build_model`'s layers, or the small MLP
of the small-model configuration) written in a few lines of `jax.lax`, Adam
as Keras computes it (β1 0.9, β2 0.999, ε 1e-7, bias-corrected learning
rate), softmax cross-entropy; the uint8 images resident on the device; per
epoch one permutation pair and all λ ~ Beta(α, α) drawn at once on the
device (`jax.random`), then the whole epoch in one jitted `lax.scan` that
gathers, mixes (x = λ·x_a + (1-λ)·x_b, labels likewise) and trains. It is
the "Mixup, the epoch's λ drawn once: whole epoch in one scan" row of
`../shared/ANCHORS.md`, the loop `tfmixup.epoch_loop` is measured against.
It shares no code with tfmixup's training path (only the layer sizes).
"""

import jax
import jax.numpy as jnp
import numpy as np

CONV_FILTERS = (32, 64, 64)


def _glorot(key, shape, fan_in, fan_out):
  limit = np.sqrt(6.0 / (fan_in + fan_out))
  return jax.random.uniform(key, shape, jnp.float32, -limit, limit)


def init_conv(key, image_shape, num_classes):
  """Parameters of the three-conv model: HWIO kernels, biases, the dense layer."""
  h, w, c = image_shape
  keys = jax.random.split(key, 4)
  params, channels = [], c
  for i, filters in enumerate(CONV_FILTERS):
    kernel = _glorot(keys[i], (3, 3, channels, filters), 9 * channels, 9 * filters)
    params.append((kernel, jnp.zeros(filters)))
    channels = filters
  h, w = ((h - 2) // 2 - 2) // 2 - 2, ((w - 2) // 2 - 2) // 2 - 2
  features = h * w * channels
  params.append((_glorot(keys[3], (features, num_classes), features, num_classes), jnp.zeros(num_classes)))
  return params


def conv_apply(params, x):
  """Logits `[B, K]` of images `[B, H, W, C]`."""
  for i, (kernel, bias) in enumerate(params[:3]):
    x = jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x = jax.nn.relu(x + bias)
    if i < 2:
      x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
  kernel, bias = params[3]
  return x.reshape(x.shape[0], -1) @ kernel + bias


def init_mlp(key, image_shape, num_classes, hidden=128):
  """Parameters of the small-model configuration: Flatten, Dense(hidden, relu), Dense(K)."""
  features = int(np.prod(image_shape))
  k1, k2 = jax.random.split(key)
  return [
    (_glorot(k1, (features, hidden), features, hidden), jnp.zeros(hidden)),
    (_glorot(k2, (hidden, num_classes), hidden, num_classes), jnp.zeros(num_classes)),
  ]


def mlp_apply(params, x):
  (w1, b1), (w2, b2) = params
  return jax.nn.relu(x.reshape(x.shape[0], -1) @ w1 + b1) @ w2 + b2


MODELS = {"conv": (init_conv, conv_apply), "mlp": (init_mlp, mlp_apply)}


class Reference:
  """Mixup training of one model in plain JAX, one compiled `lax.scan` per epoch.

  Args:
    images: uint8 `[N, H, W, C]`; labels: int `[N]`.
    num_classes: K.
    batch_size: B (the epoch's last N mod B examples are left out).
    model: "conv" (the three-conv model) or "mlp".
    alpha: Beta(α, α) of Mixup.
    learning_rate: Adam's.
  """

  def __init__(self, images, labels, num_classes, batch_size, *, model="conv", alpha=1.0, learning_rate=1e-3):
    init, apply = MODELS[model]
    self.images = jax.device_put(jnp.asarray(images))
    self.onehot = jax.device_put(jax.nn.one_hot(jnp.asarray(labels), num_classes))
    self.steps = len(images) // batch_size
    self.params = init(jax.random.key(0), images.shape[1:], num_classes)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, self.params)
    self.moments = (zeros, jax.tree_util.tree_map(jnp.zeros_like, self.params))
    self.count = jnp.zeros((), jnp.int32)
    self.key = jax.random.key(1)
    b1, b2, eps = 0.9, 0.999, 1e-7

    def loss(params, x, y):
      return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(apply(params, x)), axis=-1))

    def step(carry, batch):
      params, moments, count = carry
      index_a, index_b, lam = batch
      w = lam.reshape(-1, 1, 1, 1)
      x = (self.images[index_a] * w + self.images[index_b] * (1.0 - w)) / 255.0
      y = self.onehot[index_a] * lam[:, None] + self.onehot[index_b] * (1.0 - lam[:, None])
      value, grads = jax.value_and_grad(loss)(params, x, y)
      count = count + 1
      t = count.astype(jnp.float32)
      rate = learning_rate * jnp.sqrt(1 - b2**t) / (1 - b1**t)
      m, v = moments
      m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
      v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
      params = jax.tree_util.tree_map(lambda p, m, v: p - rate * m / (jnp.sqrt(v) + eps), params, m, v)
      return (params, (m, v), count), value

    def epoch(params, moments, count, key):
      k_a, k_b, k_lam = jax.random.split(key, 3)
      n, shape = len(images), (self.steps, batch_size)
      index_a = jax.random.permutation(k_a, n)[: self.steps * batch_size].reshape(shape)
      index_b = jax.random.permutation(k_b, n)[: self.steps * batch_size].reshape(shape)
      lam = jax.random.beta(k_lam, alpha, alpha, shape)
      (params, moments, count), losses = jax.lax.scan(step, (params, moments, count), (index_a, index_b, lam))
      return params, moments, count, jnp.mean(losses)

    self._epoch = jax.jit(epoch, donate_argnums=(0, 1))

  def train_epoch(self) -> float:
    """Trains one epoch; returns its mean loss (waits for the device)."""
    self.key, key = jax.random.split(self.key)
    self.params, self.moments, self.count, loss = self._epoch(self.params, self.moments, self.count, key)
    return float(loss)
