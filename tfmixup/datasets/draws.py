"""Random draws, all stateless: the same seed gives the same numbers anywhere.

Seeds are int64 `[2]` tensors as `tf.random.stateless_*` take them, made by
`seeds.py` (the one place where streams are derived); nothing here reads or
sets global random state.
"""

import numpy as np
import tensorflow as tf

from tfmixup.datasets.seeds import split

# The draw runs in float64: float32 uniforms come in steps of 2**-23, a grid
# that U**(1/α) stretches over the tails of λ for small α.
_TINY = float(np.finfo(np.float64).tiny)  # Keeps logs finite.
_LOWEST = float(np.finfo(np.float64).min) / 2


def _log_gamma_sample(shape: tf.Tensor, alpha: tf.Tensor, gamma_seed: tf.Tensor, uniform_seed: tf.Tensor) -> tf.Tensor:
  """log G with G ~ Gamma(alpha, 1), finite even where G underflows float32.

  Uses G(α) = G(α+1)·U^(1/α) with U ~ Uniform(0, 1) (Marsaglia & Tsang,
  2000), so log G = log G(α+1) + log(U)/α. G(α+1) has shape parameter >= 1
  and does not underflow; a direct Gamma(α) draw for small α does.
  """
  gamma = tf.random.stateless_gamma(shape, gamma_seed, alpha=alpha + 1.0, dtype=tf.float64)
  uniform = tf.random.stateless_uniform(shape, uniform_seed, minval=_TINY, maxval=1.0, dtype=tf.float64)
  log_g = tf.math.log(tf.maximum(gamma, _TINY)) + tf.math.log(uniform) / alpha
  # For tiny α, log(U)/α can overflow to -inf; clamp so differences stay finite.
  return tf.maximum(log_g, _LOWEST)


def sample_beta(shape: tf.Tensor | list[int], alpha: float | tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
  """Draws λ ~ Beta(α, α), never NaN, for any α > 0.

  λ = G1 / (G1 + G2) for independent Gamma(α, 1) draws, computed as
  sigmoid(log G1 - log G2). The direct ratio is 0/0 = NaN when both gammas
  underflow, which happens for α <= 0.05 (about 3 in 100k draws at α=0.05);
  in log space both logs stay finite and the result is exactly Beta(α, α).

  Args:
    shape: output shape, e.g. `[batch]`.
    alpha: the Beta concentration α > 0 (not checked here; the stages check).
    seed: int32 or int64 `[2]` stateless seed.

  Returns:
    float32 tensor of `shape` with values in [0, 1].
  """
  alpha = tf.cast(alpha, tf.float64)
  children = split(seed, 4)  # One op for the four draws' seeds.
  log_g1 = _log_gamma_sample(shape, alpha, children[0], children[1])
  log_g2 = _log_gamma_sample(shape, alpha, children[2], children[3])
  return tf.cast(tf.sigmoid(log_g1 - log_g2), tf.float32)


def permutation(size: int | tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
  """A uniformly random permutation of `0..size-1`, one per seed.

  A full shuffle of the materialized range (`stateless_shuffle`: 1.2 ms and
  480 KB for 60k indices on a 2-core CPU), not `index_shuffle`: the latter's
  permutations of 10^4-10^5 indices are strongly related even for unrelated
  seeds (correlations up to 0.82 measured), which left Mixup's partners
  nearly fixed from epoch to epoch in tfmixup 0.1.0.

  Args:
    size: number of indices.
    seed: int64 `[2]` stateless seed.

  Returns:
    int64 `[size]`.
  """
  return tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed)


def _buffer_pass(order: np.ndarray, uniform: np.ndarray, buffer: np.ndarray) -> np.ndarray:
  """`buffered_shuffle`'s loop, given the uniforms (one per emitted element)."""
  size = len(order)
  pool = list(order[:buffer])
  out = np.empty(size, np.int64)
  for t in range(size):
    pick = int(uniform[t] * len(pool))
    out[t] = pool[pick]
    following = t + int(buffer)
    if following < size:
      pool[pick] = order[following]
    else:
      pool[pick] = pool[-1]
      pool.pop()
  return out


def buffered_shuffle(order: tf.Tensor, buffer: int, seed: tf.Tensor) -> tf.Tensor:
  """`order` passed through a shuffle buffer of `buffer` slots: the study's suspected pipeline fault.

  As `tf.data.Dataset.shuffle(buffer)` does it: the buffer starts with the
  first `buffer` elements; each step emits a uniformly chosen slot and
  refills it with the next element (at the end, with the last slot,
  shrinking the buffer). With `buffer` >= N it is a uniform permutation;
  with a small buffer over class-sorted data the order stays nearly sorted.
  The uniforms are stateless draws; the loop runs in numpy (60k steps:
  ~0.1 s, once per epoch).

  Args:
    order: int64 `[N]`, the order the elements arrive in.
    buffer: slots, >= 1.
    seed: int64 `[2]` stateless seed.

  Returns:
    int64 `[N]`, a permutation of `order`.
  """
  uniform = tf.random.stateless_uniform(tf.shape(order), seed, dtype=tf.float64)
  out = tf.numpy_function(_buffer_pass, [order, uniform, tf.constant(buffer, tf.int64)], tf.int64, stateful=False)
  return tf.ensure_shape(out, order.shape)


def bernoulli(shape: tf.Tensor | list[int], prob: float, seed: tf.Tensor) -> tf.Tensor:
  """Independent coin flips: True with probability `prob`.

  Args:
    shape: output shape.
    prob: P(True) in [0, 1]; 1 gives all True, 0 all False.
    seed: int64 `[2]` stateless seed.

  Returns:
    bool tensor of `shape`.
  """
  return tf.random.stateless_uniform(shape, seed, dtype=tf.float32) < prob


def sample_boxes(lam: tf.Tensor, height: int, width: int, seed: tf.Tensor) -> tf.Tensor:
  """CutMix boxes of area about (1-λ)·H·W, centred uniformly, clipped to the image.

  As the CutMix authors' code (Yun et al., ICCV 2019) and timm: sides
  `int(H·√(1-λ))` and `int(W·√(1-λ))`, a centre uniform over the pixels,
  the box `centre ± side // 2` clipped to the image. Clipping shrinks the
  box; `mixing.box_fractions` gives the λ that matches its real area.

  Args:
    lam: float32 `[...]` in [0, 1]; λ = 1 gives an empty box.
    height: H.
    width: W.
    seed: int64 `[2]` stateless seed.

  Returns:
    int32 `[..., 4]`: (top, left, bottom, right), half-open.
  """
  cut = tf.sqrt(1.0 - tf.cast(lam, tf.float32))
  half_h = tf.cast(float(height) * cut, tf.int32) // 2
  half_w = tf.cast(float(width) * cut, tf.int32) // 2
  row_seed, col_seed = tf.unstack(split(seed, 2))
  shape = tf.shape(lam)
  cy = tf.random.stateless_uniform(shape, row_seed, minval=0, maxval=height, dtype=tf.int32)
  cx = tf.random.stateless_uniform(shape, col_seed, minval=0, maxval=width, dtype=tf.int32)
  return tf.stack(
    [
      tf.clip_by_value(cy - half_h, 0, height),
      tf.clip_by_value(cx - half_w, 0, width),
      tf.clip_by_value(cy + half_h, 0, height),
      tf.clip_by_value(cx + half_w, 0, width),
    ],
    axis=-1,
  )
