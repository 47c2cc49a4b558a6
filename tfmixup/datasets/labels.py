"""Label formats the stages accept, checked once up front, converted per batch.

Accepted per example: a sparse class id (integer, shape `[]`, with
`num_classes`) or a dense row (float, shape `[K]`, one-hot or soft, rows
summing to 1). Everything else is a `LabelError` when the stage is built,
not a silently wrong mix.
"""

import dataclasses

import tensorflow as tf

from tfmixup import numeric
from tfmixup.datasets.errors import LabelError


@dataclasses.dataclass(frozen=True)
class LabelFormat:
  """How a stage reads labels.

  Attributes:
    sparse: True for integer class ids, False for dense rows.
    num_classes: K, the width of the output label rows.
  """

  sparse: bool
  num_classes: int


def label_format(dtype: tf.DType, shape: tf.TensorShape, num_classes: int | None) -> LabelFormat:
  """Checks one example's label spec and returns how to read it.

  Args:
    dtype: the label's dtype.
    shape: the label's shape for one example (no batch dimension).
    num_classes: K; required for sparse labels, optional for dense ones
      (where it must then equal the row width).

  Returns:
    The `LabelFormat`.

  Raises:
    LabelError: any other dtype or shape, a missing or non-positive
      `num_classes` for sparse labels, or a mismatch for dense ones.
  """
  dtype = tf.as_dtype(dtype)
  shape = tf.TensorShape(shape)
  if num_classes is not None and (numeric.integer(num_classes) is None or num_classes < 1):
    raise LabelError(f"num_classes must be a positive integer, got {num_classes!r}")
  if dtype.is_integer and shape.rank == 0:
    if num_classes is None:
      raise LabelError("labels are sparse class ids: pass num_classes")
    return LabelFormat(sparse=True, num_classes=int(num_classes))
  if dtype.is_floating and shape.rank == 1 and shape[0] is not None:
    width = int(shape[0])
    if num_classes is not None and int(num_classes) != width:
      raise LabelError(f"labels are rows of width {width} but num_classes is {num_classes}")
    return LabelFormat(sparse=False, num_classes=width)
  raise LabelError(
    "labels must be integer class ids of shape [] (with num_classes) or float"
    f" one-hot rows of shape [K]; got {dtype.name} of shape {shape}"
  )


def to_rows(labels: tf.Tensor, fmt: LabelFormat, check: bool = True) -> tf.Tensor:
  """Converts a batch of labels to float32 rows `[B, K]`.

  Args:
    labels: `[B]` integer ids or `[B, K]` float rows, as `fmt` says.
    fmt: from `label_format`.
    check: verify values in-graph (ids in `[0, K)`; rows non-negative and
      summing to 1); skip only where they were checked already.

  Returns:
    float32 `[B, K]` rows summing to 1.

  Raises:
    tf.errors.InvalidArgumentError: (when iterated) a value fails the check.
  """
  if fmt.sparse:
    # tf.one_hot takes only uint8, int32 and int64 ids; int64 holds every
    # id of every integer dtype (an out-of-range uint64 turns negative and
    # fails the check below). The bound is compared in int64 too, so K > 255
    # cannot overflow a narrow dtype.
    labels = tf.cast(labels, tf.int64)
    if check:
      tf.debugging.assert_non_negative(labels, message="class ids must be >= 0")
      tf.debugging.assert_less(
        labels,
        tf.constant(fmt.num_classes, tf.int64),
        message=f"class ids must be < num_classes={fmt.num_classes}",
      )
    return tf.one_hot(labels, fmt.num_classes, dtype=tf.float32)
  rows = tf.cast(labels, tf.float32)
  if check:
    tf.debugging.assert_non_negative(rows, message="label rows must be non-negative")
    tf.debugging.assert_near(
      tf.reduce_sum(rows, axis=-1),
      tf.ones(tf.shape(rows)[:1]),
      atol=1e-3,
      message="label rows must sum to 1",
    )
  return rows
