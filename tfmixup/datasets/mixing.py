"""The mixing arithmetic: pure functions of two batches and λ or boxes, no randomness.

Random draws live in `draws.py` and the tf.data plumbing in `stages.py`;
keeping the arithmetic here lets tests inject λ and check exact numbers.
"""

import tensorflow as tf


def mix_batches(
  images_a: tf.Tensor,
  labels_a: tf.Tensor,
  images_b: tf.Tensor,
  labels_b: tf.Tensor,
  lam: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
  """Mixup of two batches with one λ per sample (Zhang et al., ICLR 2018).

  x = λ·x_a + (1-λ)·x_b and y = λ·y_a + (1-λ)·y_b, with the same λ for an
  image and its label.

  Args:
    images_a: float32 `[B, H, W, C]`.
    labels_a: float32 `[B, K]`, rows summing to 1.
    images_b: float32 `[B, H, W, C]`, the partners.
    labels_b: float32 `[B, K]`.
    lam: float32 `[B]` in [0, 1], or a scalar applied to every sample.

  Returns:
    `(images [B, H, W, C], labels [B, K])`; label rows still sum to 1.
  """
  images_a = tf.convert_to_tensor(images_a, dtype=tf.float32)
  images_b = tf.convert_to_tensor(images_b, dtype=tf.float32)
  labels_a = tf.convert_to_tensor(labels_a, dtype=tf.float32)
  labels_b = tf.convert_to_tensor(labels_b, dtype=tf.float32)
  lam = tf.convert_to_tensor(lam, dtype=tf.float32)
  if lam.shape.rank == 0:
    lam = tf.fill(tf.shape(images_a)[:1], lam)
  lam_images = tf.reshape(lam, [-1] + [1] * (images_a.shape.rank - 1))
  lam_labels = tf.reshape(lam, [-1, 1])
  images = lam_images * images_a + (1.0 - lam_images) * images_b
  labels = lam_labels * labels_a + (1.0 - lam_labels) * labels_b
  return images, labels


def mix_stored_batches(  # noqa: PLR0917 - two batches, λ and a scale, as mix_batches
  images_a: tf.Tensor,
  labels_a: tf.Tensor,
  images_b: tf.Tensor,
  labels_b: tf.Tensor,
  lam: tf.Tensor,
  scale: float,
) -> tuple[tf.Tensor, tf.Tensor]:
  """Mixup of two batches as stored (e.g. uint8), scaling to float in the same step.

  x = (λ·scale)·x_a + ((1-λ)·scale)·x_b: two casts, two products and a sum
  over the pixels, where scaling first and mixing after takes two more
  passes. Equals `mix_batches(scale·x_a, y_a, scale·x_b, y_b, λ)` up to float
  rounding (a product rounded once instead of twice; exactly equal for
  scale = 1).

  Args:
    images_a: `[B, H, W, C]`, any real dtype (uint8 0-255 with scale 1/255).
    labels_a: float32 `[B, K]`.
    images_b: `[B, H, W, C]`, the partners, same dtype.
    labels_b: float32 `[B, K]`.
    lam: float32 `[B]` in [0, 1].
    scale: the factor that maps stored values to float images.

  Returns:
    `(images float32 [B, H, W, C], labels float32 [B, K])`.
  """
  lam = tf.convert_to_tensor(lam, dtype=tf.float32)
  weight_a = tf.reshape(lam * scale, [-1, 1, 1, 1])
  weight_b = tf.reshape((1.0 - lam) * scale, [-1, 1, 1, 1])
  images = tf.cast(images_a, tf.float32) * weight_a + tf.cast(images_b, tf.float32) * weight_b
  return images, mix_labels(labels_a, labels_b, lam)


def mix_labels(labels_a: tf.Tensor, labels_b: tf.Tensor, lam: tf.Tensor) -> tf.Tensor:
  """Mixup's label half: y = λ·y_a + (1-λ)·y_b, per sample.

  Args:
    labels_a: float32 `[B, K]`.
    labels_b: float32 `[B, K]`.
    lam: float32 `[B]` in [0, 1].

  Returns:
    float32 `[B, K]`.
  """
  lam_labels = tf.convert_to_tensor(lam, tf.float32)[:, tf.newaxis]
  return lam_labels * tf.convert_to_tensor(labels_a, tf.float32) + (1.0 - lam_labels) * tf.convert_to_tensor(
    labels_b, tf.float32
  )


def pair_batches(images_a: tf.Tensor, labels_a: tf.Tensor, images_b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """SamplePairing (Inoue, 2018): average two images, keep the first label.

  Args:
    images_a: float32 `[B, H, W, C]`.
    labels_a: float32 `[B, K]`.
    images_b: float32 `[B, H, W, C]`, the partners; their labels are unused.

  Returns:
    `((x_a + x_b) / 2 [B, H, W, C], labels_a [B, K])`.
  """
  return mix_batches(images_a, labels_a, images_b, labels_a, 0.5)


def box_masks(boxes: tf.Tensor, height: int, width: int) -> tf.Tensor:
  """Boolean masks of boxes, one per sample.

  Args:
    boxes: int32 `[B, 4]`: (top, left, bottom, right), half-open pixel
      ranges `top <= row < bottom`, `left <= column < right`.
    height: H, image rows.
    width: W, image columns.

  Returns:
    bool `[B, H, W, 1]`, True inside each sample's box.
  """
  boxes = tf.convert_to_tensor(boxes, dtype=tf.int32)
  rows = tf.range(height, dtype=tf.int32)[tf.newaxis, :]  # [1, H]
  cols = tf.range(width, dtype=tf.int32)[tf.newaxis, :]  # [1, W]
  in_rows = (rows >= boxes[:, 0:1]) & (rows < boxes[:, 2:3])  # [B, H]
  in_cols = (cols >= boxes[:, 1:2]) & (cols < boxes[:, 3:4])  # [B, W]
  return (in_rows[:, :, tf.newaxis] & in_cols[:, tf.newaxis, :])[..., tf.newaxis]


def box_fractions(boxes: tf.Tensor, height: int, width: int) -> tuple[tf.Tensor, tf.Tensor]:
  """The fractions of pixels outside and inside each box, float32 `[B]` each.

  Each is a pixel count divided once by H·W, so each equals the exact
  fraction as float32 rounds it (1 - inside would not: it rounds twice).
  """
  boxes = tf.convert_to_tensor(boxes, dtype=tf.int32)
  area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  pixels = float(height * width)
  return tf.cast(height * width - area, tf.float32) / pixels, tf.cast(area, tf.float32) / pixels


def cut_batches(
  images_a: tf.Tensor,
  labels_a: tf.Tensor,
  images_b: tf.Tensor,
  labels_b: tf.Tensor,
  boxes: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
  """CutMix of two batches (Yun et al., ICCV 2019): paste a box of each partner.

  Inside its box a sample takes the partner's pixels; its label weight is
  the fraction of pixels it keeps, λ = 1 - area / (H·W), computed from the
  box as given (already clipped to the image): each label weight is a pixel count
  divided by H·W, so the weights equal the pixel fractions exactly.

  Args:
    images_a: float32 `[B, H, W, C]`.
    labels_a: float32 `[B, K]`.
    images_b: float32 `[B, H, W, C]`, the partners.
    labels_b: float32 `[B, K]`.
    boxes: int32 `[B, 4]` (top, left, bottom, right) within the image; an
      empty box leaves the sample unchanged.

  Returns:
    `(images [B, H, W, C], labels [B, K])`.
  """
  images_a = tf.convert_to_tensor(images_a, dtype=tf.float32)
  height, width = images_a.shape[1], images_a.shape[2]
  mask = box_masks(boxes, height, width)
  images = tf.where(mask, tf.convert_to_tensor(images_b, dtype=tf.float32), images_a)
  return images, cut_labels(labels_a, labels_b, boxes, height, width)


def cut_labels(labels_a: tf.Tensor, labels_b: tf.Tensor, boxes: tf.Tensor, height: int, width: int) -> tf.Tensor:
  """CutMix's label half: y = kept·y_a + taken·y_b, the pixel fractions of `box_fractions`.

  Args:
    labels_a: float32 `[B, K]`.
    labels_b: float32 `[B, K]`.
    boxes: int32 `[B, 4]`, as `cut_batches`.
    height: H.
    width: W.

  Returns:
    float32 `[B, K]`.
  """
  kept, taken = box_fractions(boxes, height, width)
  labels_a = tf.convert_to_tensor(labels_a, tf.float32)
  return kept[:, tf.newaxis] * labels_a + taken[:, tf.newaxis] * tf.convert_to_tensor(labels_b, tf.float32)


def mix_or_cut_batches(  # noqa: PLR0917 - two batches, λ and boxes, as mix_batches
  images_a: tf.Tensor,
  labels_a: tf.Tensor,
  images_b: tf.Tensor,
  labels_b: tf.Tensor,
  lam: tf.Tensor,
  boxes: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
  """Mixup for some samples and CutMix for others, in one pass.

  Per sample: x = box ? x_b : λ·x_a + (1-λ)·x_b, and the weight of y_a is
  λ · (1 - area / (H·W)) and that of y_b the rest. A Mixup sample has an empty box; a CutMix sample
  has λ = 1; a sample left alone has both (then x = x_a, y = y_a).

  Args:
    images_a, labels_a, images_b, labels_b: as `mix_batches`.
    lam: float32 `[B]` in [0, 1].
    boxes: int32 `[B, 4]`, as `cut_batches`.

  Returns:
    `(images [B, H, W, C], labels [B, K])`.
  """
  images_a = tf.convert_to_tensor(images_a, dtype=tf.float32)
  images_b = tf.convert_to_tensor(images_b, dtype=tf.float32)
  lam = tf.convert_to_tensor(lam, dtype=tf.float32)
  height, width = images_a.shape[1], images_a.shape[2]
  lam_images = tf.reshape(lam, [-1, 1, 1, 1])
  mixed = lam_images * images_a + (1.0 - lam_images) * images_b
  images = tf.where(box_masks(boxes, height, width), images_b, mixed)
  return images, mix_or_cut_labels(labels_a, labels_b, lam, boxes, height, width)


def mix_or_cut_labels(  # noqa: PLR0917 - two label batches, λ, boxes and the image size
  labels_a: tf.Tensor, labels_b: tf.Tensor, lam: tf.Tensor, boxes: tf.Tensor, height: int, width: int
) -> tf.Tensor:
  """`mix_or_cut_batches`' label half: y_a weighs λ·kept, y_b (1-λ) + λ·taken.

  Args:
    labels_a: float32 `[B, K]`.
    labels_b: float32 `[B, K]`.
    lam: float32 `[B]` in [0, 1].
    boxes: int32 `[B, 4]`, as `cut_batches`.
    height: H.
    width: W.

  Returns:
    float32 `[B, K]`.
  """
  lam = tf.convert_to_tensor(lam, dtype=tf.float32)
  kept, taken = box_fractions(boxes, height, width)
  # y_a's weight λ·kept and y_b's (1-λ) + λ·taken sum to 1; for a CutMix sample
  # (λ = 1) they are the pixel fractions, for a Mixup sample (no box) λ and 1-λ.
  weight_a, weight_b = lam * kept, (1.0 - lam) + lam * taken
  labels = weight_a[:, tf.newaxis] * tf.convert_to_tensor(labels_a, tf.float32)
  labels += weight_b[:, tf.newaxis] * tf.convert_to_tensor(labels_b, tf.float32)
  return labels


def smooth_labels(labels: tf.Tensor, smoothing: float) -> tf.Tensor:
  """Label smoothing: y·(1 - ε) + ε / K, for any label rows (mixed or not).

  As Keras's `CategoricalCrossentropy(label_smoothing=ε)` does to its
  targets; smoothing is linear, so smoothing the mixed rows equals mixing
  smoothed rows (timm's order).

  Args:
    labels: float32 `[B, K]`, rows summing to 1.
    smoothing: ε in [0, 1).

  Returns:
    float32 `[B, K]`, rows still summing to 1.
  """
  labels = tf.convert_to_tensor(labels, dtype=tf.float32)
  if not smoothing:
    return labels
  num_classes = tf.cast(tf.shape(labels)[-1], tf.float32)
  return labels * (1.0 - smoothing) + smoothing / num_classes
