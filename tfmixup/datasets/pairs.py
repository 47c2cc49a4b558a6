"""Class pairs that never mix: the `exclude_pairs` stage option.

Each epoch pairs position p's first example `order_a[p]` with the partner
`order_b[p]` (two independent permutations, `stages.epoch_draws`). With
`exclude_pairs=((c, d), ...)`, a position whose two classes form an
excluded pair (in either order) gets a new partner, drawn uniformly from
the examples whose class may mix with the first example's class. Every
example still mixes (nothing is dropped), and given its class c, a first
example's partner is uniform over the allowed examples: a position keeps
its pass-B partner with probability 1/N each and is redrawn with
probability (excluded examples)/N, spread evenly over the allowed ones,
which makes 1/(allowed examples) for each. The positions that are not
excluded keep their partners and every other draw (λ, boxes) is
unchanged, so a stage with and without the option differ only at the
excluded positions.

This is the pair-level causal test of the intrusion study (`results/science/science.md`, "Does
intrusion cause the penalty?"): Mixup without 6 + 9 mixes against Mixup
without as many 6 + 8 mixes. Users may also use it to keep classes that
should not blend (for example, two fine-grained classes) apart.

The redraw's random numbers come from their own stream of the seed tree
(`seeds.Stream.PARTNERS`).
"""

import numpy as np
import tensorflow as tf

from tfmixup.datasets.errors import DataError

Pairs = tuple[tuple[int, int], ...]


def _is_int(value: object) -> bool:
  return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_pairs(pairs: object) -> Pairs:
  """Validates `exclude_pairs` and returns it canonical: each pair sorted, pairs sorted, no repeats.

  Raises:
    DataError: not a sequence of pairs of class ids >= 0.
  """
  if pairs is None:
    return ()
  message = f"exclude_pairs must be pairs of class ids >= 0 such as ((6, 9),), got {pairs!r}"
  if isinstance(pairs, str | bytes) or not hasattr(pairs, "__iter__"):
    raise DataError(message)
  out = set()
  for pair in pairs:
    if isinstance(pair, str | bytes) or not hasattr(pair, "__len__") or len(pair) != 2:
      raise DataError(message)
    if not all(_is_int(c) and c >= 0 for c in pair):
      raise DataError(message)
    a, b = sorted(int(c) for c in pair)
    out.add((a, b))
  return tuple(sorted(out))


class PartnerRedraw:
  """The tables of one dataset's allowed partners, and the per-epoch redraw.

  Built once per stage from the class ids `[N]`; holds O(N + K²) numbers:
  the examples sorted by class, each class's first row and size there, and
  for each class c the cumulative sizes of the classes allowed to mix with c.
  """

  def __init__(self, class_ids: np.ndarray, pairs: Pairs, num_classes: int) -> None:
    """Args:
      class_ids: int `[N]`, each example's class in [0, num_classes).
      pairs: canonical excluded pairs (`check_pairs`).
      num_classes: K.

    Raises:
      DataError: a pair names a class outside [0, K), or leaves a class
        present in the data with no allowed partner.
    """
    for pair in pairs:
      if max(pair) >= num_classes:
        raise DataError(f"exclude_pairs names class {max(pair)}, but the labels have classes 0..{num_classes - 1}")
    class_ids = np.asarray(class_ids, np.int64)
    excluded = np.zeros((num_classes, num_classes), bool)
    for a, b in pairs:
      excluded[a, b] = excluded[b, a] = True
    sizes = np.bincount(class_ids, minlength=num_classes)
    allowed_sizes = np.where(excluded, 0, sizes[None, :])  # [K, K]: row c, the sizes of c's allowed classes
    present = sizes > 0
    orphans = np.flatnonzero(present & (allowed_sizes.sum(axis=1) == 0))
    if orphans.size:
      raise DataError(f"exclude_pairs leaves class {int(orphans[0])} no class to mix with")
    self.excluded = tf.constant(excluded)
    self.by_class = tf.constant(np.argsort(class_ids, kind="stable").astype(np.int64))
    self.class_start = tf.constant((np.cumsum(sizes) - sizes).astype(np.int64))
    cum = np.cumsum(allowed_sizes, axis=1).astype(np.int64)
    self.allowed_cum = tf.constant(cum)  # [K, K]: examples allowed for row c in classes <= d
    self.allowed_start = tf.constant(cum - allowed_sizes)  # [K, K]: ... in classes < d
    self.class_ids = tf.constant(class_ids)

  def redraw(self, order_a: tf.Tensor, order_b: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Pass B with every excluded position's partner redrawn.

    Args:
      order_a: int64 `[N]`, the first examples by position.
      order_b: int64 `[N]`, their partners.
      seed: int64 `[2]`, this epoch's redraw stream.

    Returns:
      int64 `[N]`: `order_b` where the pair is allowed; elsewhere an
      example drawn uniformly from those whose class may mix with the
      first example's.
    """
    class_a = tf.gather(self.class_ids, order_a)
    class_b = tf.gather(self.class_ids, order_b)
    excluded = tf.gather_nd(self.excluded, tf.stack([class_a, class_b], axis=1))
    cum = tf.gather(self.allowed_cum, class_a)  # [N, K]
    total = cum[:, -1]
    # A uniform rank among the allowed examples; int64 words modulo the count (bias < count / 2**63).
    words = tf.random.stateless_uniform(tf.shape(order_a), seed, minval=None, maxval=None, dtype=tf.int64)
    rank = tf.math.floormod(words, tf.maximum(total, 1))
    partner_class = tf.searchsorted(cum, rank[:, None], side="right")[:, 0]
    offset = rank - tf.gather(tf.gather(self.allowed_start, class_a), partner_class, batch_dims=1)
    row = tf.gather(self.class_start, partner_class) + offset
    return tf.where(excluded, tf.gather(self.by_class, row), order_b)
