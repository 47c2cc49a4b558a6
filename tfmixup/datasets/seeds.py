"""Every random stream of the stages, derived from the user's seed in one place.

The derivation is a tree; each node is a stateless seed, an int64 `[2]`
tensor as `tf.random.stateless_*` take it:

  root                     = derive([seed, 0], ROOT)
  epoch e                  = derive(root, EPOCH, e)
    pass A (first examples)  = derive(epoch e, PASS_A)    a permutation
    pass B (partners)        = derive(epoch e, PASS_B)    a permutation
    λ of batch s             = split(derive(epoch e, LAMBDA), batches)[s]
    worker w's per-batch draws = derive(derive(epoch e, LAMBDA), WORKER, w)  (`shards.py`)
    the control's drop keys     = derive(epoch e, CONTROL)   (`filtering.py`: which mixes a random drop takes)
    excluded pairs' partners    = derive(epoch e, PARTNERS)  (`pairs.py`: redrawn partners)
  a `tf.data.Dataset` input, whose number of batches may be unknown:
    shuffle seeds            = derive(epoch e, SHUFFLE_A / SHUFFLE_B)[0]
    λ of batch s             = split(derive(derive(epoch e, LAMBDA), s // 1024), 1024)[s % 1024]

Why it is sound. `derive(seed, d)` folds `d` in with
`tf.random.experimental.stateless_fold_in`, which returns `[h, d]`, and
then draws both words of the new seed from Philox keyed by that: two
children of one node (d = 0 and d = 1, say) therefore differ in every word,
each word a Philox output, not in one word only. The bare `[h, 0]` /
`[h, 1]` of `stateless_fold_in` is what made the passes of tfmixup 0.1.0
related. Philox-4x32-10 (Salmon et al., SC 2011) passes BigCrush for every
key and counter, so outputs under different keys behave as independent.
The ops use TensorFlow's default algorithm ("auto_select"), which is Philox
on CPUs and GPUs, where these pipelines run; naming `alg="philox"`
explicitly would give the same quality through a slower, many-op seed
scrambling in Python (measured: +25% CPU time per Mixup batch).
Permutations are full Fisher-Yates-style shuffles
(`tf.random.experimental.stateless_shuffle`), not the cheaper
`index_shuffle` bijection, whose permutations of 10^4-10^5 elements were
measured to be strongly related even for unrelated seeds.

The epoch number `e` counts the iterations of one pipeline (Keras starts one
per epoch): 0, 1, 2, ... It lives in a `tf.Variable` of the pipeline, so it
is the same in every run and process and does not depend on TensorFlow's
global seed.
"""

import enum
import secrets

import tensorflow as tf

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Stream(enum.IntEnum):
  """The salts of the tree's branches; each names one independent stream."""

  ROOT = 0x7F3A
  EPOCH = 1
  PASS_A = 2
  PASS_B = 3
  LAMBDA = 4
  SHUFFLE_A = 5
  SHUFFLE_B = 6
  WORKER = 7
  CONTROL = 8
  PARTNERS = 9


def derive(seed: tf.Tensor, *data: int | tf.Tensor) -> tf.Tensor:
  """A child seed: `data` folded into `seed`, then both words redrawn.

  Args:
    seed: int64 `[2]`.
    *data: integers (Python or int64 scalar tensors), folded in order.

  Returns:
    int64 `[2]`; for different `data`, both words differ (but with
    probability 2**-64 each).
  """
  seed = tf.cast(seed, tf.int64)
  for d in data:
    folded = tf.random.experimental.stateless_fold_in(seed, tf.cast(d, tf.int64))
    seed = tf.random.stateless_uniform([2], folded, minval=None, maxval=None, dtype=tf.int64)
  return seed


def batch_seed_stream(epoch: tf.Tensor, block: int = 1024) -> tf.data.Dataset:
  """The λ seeds of an epoch's batches as an endless stream, for inputs of unknown length.

  Drawn `block` at a time: `split(derive(derive(epoch, LAMBDA), k), block)`
  for blocks k = 0, 1, ...
  """
  lambda_root = derive(epoch, Stream.LAMBDA)
  blocks = tf.data.Dataset.range(2**62).map(lambda k: split(derive(lambda_root, k), block))
  return blocks.unbatch()


def split(seed: tf.Tensor, num: int | tf.Tensor) -> tf.Tensor:
  """`num` child seeds at once: int64 `[num, 2]`, row i the seed of child i.

  One Philox draw keyed by `seed` (what `tf.random.split` does), so each
  child's two words are independent outputs. Used where seeds are needed in
  bulk or per batch: one op instead of one `derive` per child.
  """
  shape = [num, 2] if isinstance(num, int) else tf.stack([tf.cast(num, tf.int32), 2])
  return tf.random.stateless_uniform(shape, tf.cast(seed, tf.int64), minval=None, maxval=None, dtype=tf.int64)


def check_seed(seed: object) -> int:
  """Returns a user seed as an int; raises ValueError unless it is an int64 integer."""
  if isinstance(seed, bool) or not isinstance(seed, int) and not hasattr(seed, "__index__"):
    raise ValueError(f"seed must be an integer, got {seed!r}")
  value = int(seed.__index__())
  if not INT64_MIN <= value <= INT64_MAX:
    raise ValueError(f"seed must be an integer in [-2**63, 2**63), got {value}")
  return value


def fresh_seed() -> int:
  """A new seed from the operating system's entropy, for `seed=None`."""
  return secrets.randbits(63)


def root(seed: int) -> tf.Tensor:
  """The root of a stage's tree, from a checked user seed (negative ones too)."""
  return derive(tf.constant([seed, 0], tf.int64), Stream.ROOT)


def epoch_seed(root_seed: tf.Tensor, epoch: tf.Tensor) -> tf.Tensor:
  """The seed of epoch `epoch` (int64 scalar) under `root_seed`."""
  return derive(root_seed, Stream.EPOCH, epoch)


def stream(epoch: tf.Tensor, which: Stream) -> tf.Tensor:
  """The seed of one stream of an epoch."""
  return derive(epoch, which)


def batch_seeds(epoch: tf.Tensor, num_batches: int | tf.Tensor) -> tf.Tensor:
  """The λ seeds of an epoch's batches, int64 `[num_batches, 2]`, drawn at once."""
  return split(derive(epoch, Stream.LAMBDA), num_batches)


def shuffle_seed(epoch: tf.Tensor, which: Stream) -> tf.Tensor:
  """An int64 scalar seed for `tf.data.Dataset.shuffle`, from one stream."""
  return derive(epoch, which)[0]


class EpochCounter:
  """Numbers the iterations of a pipeline e0, e0 + 1, ...: its epochs (e0 = `initial_epoch`).

  `dataset()` yields one element, the epoch number, per iteration; the stage
  flat-maps it into that epoch's batches. The count is kept in a CPU
  variable (tf.data runs on the CPU), so it depends only on how many times
  this pipeline was iterated, not on global seeds.
  """

  def __init__(self, initial_epoch: int = 0) -> None:
    with tf.device("/CPU:0"):
      self._next = tf.Variable(initial_epoch, dtype=tf.int64, trainable=False, name="tfmixup_epoch")

  @property
  def next_epoch(self) -> int:
    """The epoch number the next iteration will get."""
    return int(self._next.numpy())

  def set_next_epoch(self, epoch: int) -> None:
    """Makes `epoch` the number the next iteration gets (training ties it to its own epochs)."""
    self._next.assign(epoch)

  def dataset(self) -> tf.data.Dataset:
    """A one-element dataset: this iteration's epoch number (int64 scalar)."""
    counter = self._next
    return tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(lambda _: counter.assign_add(1) - 1)
