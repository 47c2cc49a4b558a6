"""Where the time of tfmixup's Mixup stage goes, and cheaper prototypes of Mixup and CutMix.

  python benchmarks/profile_mixup.py --data_dir=../shared/mnist --groups=check,ablation,mixup,cutmix --repeats=9
  python benchmarks/profile_mixup.py --data_dir=../shared/mnist --groups=pieces --threads=1 --repeats=5

Standalone: nothing here changes tfmixup. The prototypes reuse its seed tree
(`tfmixup.datasets.seeds`) and its λ draw (`draws.sample_beta`) and rebuild
the plumbing of `stages._from_arrays` (epoch counter, two permutations per
epoch cut into rows, one parallel map per batch, prefetch, default tf.data
rewrites off) so that one change at a time can be timed. Full MNIST,
batch 128. Groups:

  check     (untimed) the prototypes give the batches they claim
  pieces    CPU µs per batch of each piece of the maps and per-epoch draws,
            in a tf.while_loop (no tf.data, no Python per batch); run it
            alone with --threads=1
  ablation  the current stage with one piece removed at a time, as full
            pipelines iterated from Python like bench_main.py
  mixup     Mixup prototypes, each one change further
  cutmix    CutMix prototypes vs keras.layers.CutMix; a Mixup/CutMix switch

Every group is one interleaved run (timing.py): variants in rotating order
within each repetition with an epoch of the group's reference before the
first and after each; a variant's ratio (and extra CPU per batch) is taken
against the two reference epochs around it, then median (min-max) over
repetitions. Results go to --output as JSON.
"""

import json
import os
import shlex
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import timing  # noqa: E402
from absl import app, flags  # noqa: E402

from tfmixup import datasets  # noqa: E402
from tfmixup.datasets import draws, mixing, seeds, stages  # noqa: E402

_DATA_DIR = flags.DEFINE_string("data_dir", "../shared/mnist", "MNIST IDX directory.")
_REPEATS = flags.DEFINE_integer("repeats", 9, "Repetitions (interleaved) per group.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Batch size.")
_GROUPS = flags.DEFINE_list(
  "groups", ["check", "pieces", "ablation", "mixup", "cutmix"], "Groups to run (check: prototypes' outputs, untimed)."
)
_THREADS = flags.DEFINE_integer("threads", None, "TensorFlow inter- and intra-op threads (1 for the pieces group).")
_ONLY = flags.DEFINE_list("only", None, "Run only these variants (plus each group's reference).")
_OUTPUT = flags.DEFINE_string(
  "output", "benchmarks/profile_results.json", "Results JSON, updated group by group ('' for none)."
)

AUTOTUNE = tf.data.AUTOTUNE
ALPHA = 1.0
_LAMBDA, _BOX = 4, 7  # salts under the epoch seed (seeds.Stream.LAMBDA; a new one for CutMix boxes)


class Data:
  """The arrays as tensors, prepared once, as the stage holds them."""

  def __init__(self, train: datasets.ImageArrays):
    self.train = train
    self.size = len(train)
    self.num_classes = train.num_classes
    self.height, self.width = train.images.shape[1:3]
    self.images = stages.as_tensor(train.images)  # uint8 [N, H, W, C], adopted without a copy
    self.ids = tf.constant(train.labels.astype(np.int64))
    self.table = tf.one_hot(self.ids, self.num_classes)  # float32 [N, K]: 2.4 MB for MNIST
    self.eye = tf.eye(self.num_classes)


# ---------------------------------------------------------------- plumbing


def stage(
  data: Data,
  per_epoch: Callable[[tf.Tensor], tuple[tuple, tuple]],
  per_batch: Callable[..., tuple],
  *,
  batch_size: int,
  seed: int = 0,
  group: int = 1,
  parallel: int = AUTOTUNE,
  jit: bool = False,
  default_rewrites: bool = False,
  intra_op: int | None = None,
  per_chunk: Callable[..., tuple] | None = None,
) -> tf.data.Dataset:
  """The plumbing of stages._from_arrays around any per-epoch draw and per-batch map.

  per_epoch(epoch_seed) -> (per_position, per_batch_values): tensors with
  one row per position of the epoch ([size, ...], cut into batches like the
  permutations) and with one row per batch ([num_batches, ...]).
  per_batch(*rows) -> (images, labels) is the parallel map. group > 1 maps
  `group` batches per call (then unbatches): per-position values come
  flattened to [group * B, ...], per-batch values as [group, ...].
  intra_op sets tf.data's max_intra_op_parallelism. per_chunk (with
  group > 1): a first parallel map over the groups of rows ([group, B, ...],
  [group, ...]) whose outputs, unbatched, feed per_batch one batch at a time.
  """
  size = data.size
  full = size // batch_size
  cut = full * batch_size
  num_batches = -(-size // batch_size)
  root = seeds.root(seed)
  counter = seeds.EpochCounter()
  num_positions = []  # how many of the rows are per position; known once epoch_batches is traced

  def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
    positions, per_batch_values = per_epoch(seeds.epoch_seed(root, epoch))
    num_positions[:] = [len(positions)]
    fulls = tuple(tf.reshape(t[:cut], [full, batch_size, *t.shape[1:]]) for t in positions)
    rests = tuple(t[cut:] for t in positions)
    fulls += tuple(t[:full] for t in per_batch_values)
    rests += tuple(t[full] for t in per_batch_values)
    ds = tf.data.Dataset.from_tensor_slices(fulls)
    if group > 1:
      ds = ds.batch(group)
      rests = tuple(t[tf.newaxis] for t in rests)
    if num_batches > full:
      ds = ds.concatenate(tf.data.Dataset.from_tensors(rests))
    return ds

  fn = tf.function(per_batch, jit_compile=True) if jit else per_batch
  if per_chunk is not None:
    ds = counter.dataset().flat_map(epoch_batches).map(per_chunk, num_parallel_calls=parallel).unbatch()
    ds = ds.map(fn, num_parallel_calls=parallel)
  elif group > 1:

    def grouped(*rows):
      k_b = tf.shape(rows[0])[:2]
      flat = [tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0)) for t in rows[: num_positions[0]]]
      out = fn(*flat, *rows[num_positions[0] :])
      return tuple(tf.reshape(o, tf.concat([k_b, tf.shape(o)[1:]], 0)) for o in out)

    ds = counter.dataset().flat_map(epoch_batches).map(grouped, num_parallel_calls=parallel).unbatch()
  else:
    ds = counter.dataset().flat_map(epoch_batches).map(fn, num_parallel_calls=parallel)
  ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(AUTOTUNE)
  options = tf.data.Options()
  options.experimental_optimization.apply_default_optimizations = default_rewrites
  if intra_op is not None:
    options.threading.max_intra_op_parallelism = intra_op
  return ds.with_options(options)


def permutations(epoch_seed: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
  return (
    draws.permutation(size, seeds.stream(epoch_seed, seeds.Stream.PASS_A)),
    draws.permutation(size, seeds.stream(epoch_seed, seeds.Stream.PASS_B)),
  )


def seeds_per_batch(data: Data, batch_size: int) -> Callable:
  """As the stage today: two permutations per epoch, one λ seed per batch."""
  num_batches = -(-data.size // batch_size)

  def per_epoch(epoch_seed):
    return permutations(epoch_seed, data.size), (seeds.batch_seeds(epoch_seed, num_batches),)

  return per_epoch


def lambda_per_epoch(data: Data) -> Callable:
  """Two permutations and every λ of the epoch in one draw: λ per position, [size]."""

  def per_epoch(epoch_seed):
    lam = draws.sample_beta([data.size], ALPHA, seeds.derive(epoch_seed, _LAMBDA))
    return (*permutations(epoch_seed, data.size), lam), ()

  return per_epoch


def mixed_labels_per_epoch(data: Data) -> Callable:
  """Everything but the images per epoch: weights λ/255, (1-λ)/255 and the mixed label rows, [size, ...]."""

  def per_epoch(epoch_seed):
    order_a, order_b = permutations(epoch_seed, data.size)
    lam = draws.sample_beta([data.size], ALPHA, seeds.derive(epoch_seed, _LAMBDA))
    y = mixing.mix_batches(
      tf.zeros([data.size, 1]),
      tf.gather(data.table, order_a),
      tf.zeros([data.size, 1]),
      tf.gather(data.table, order_b),
      lam,
    )[1]
    w_a = tf.reshape(lam / 255.0, [-1, 1, 1, 1])
    return (order_a, order_b, w_a, 1.0 / 255.0 - w_a, y), ()

  return per_epoch


def chunk_seeds(data: Data, batch_size: int, chunk: int) -> Callable:
  """Two permutations per epoch, and one λ seed per chunk of `chunk` batches (repeated per batch)."""
  num_batches = -(-data.size // batch_size)

  def per_epoch(epoch_seed):
    per_chunk = seeds.split(seeds.derive(epoch_seed, _LAMBDA), -(-num_batches // chunk))
    return permutations(epoch_seed, data.size), (tf.repeat(per_chunk, chunk, axis=0)[:num_batches],)

  return per_epoch


def weights_and_labels_per_chunk(data: Data) -> Callable:
  """For a chunk of batches: λ in one draw, then the weights λ/255, (1-λ)/255 and the mixed label rows."""

  def fn(a, b, lambda_seeds):
    lam = draws.sample_beta(tf.shape(a), ALPHA, lambda_seeds[0])  # [k, B]
    w_a = lam[..., tf.newaxis, tf.newaxis, tf.newaxis] / 255.0
    l_a = lam[..., tf.newaxis]
    y = tf.gather(data.table, a) * l_a + tf.gather(data.table, b) * (1.0 - l_a)
    return a, b, w_a, 1.0 / 255.0 - w_a, y

  return fn


def cut_boxes(lam: tf.Tensor, seed: tf.Tensor, height: int, width: int) -> tuple[tf.Tensor, tf.Tensor]:
  """CutMix boxes from λ: cut side ratio sqrt(1-λ), centre uniform, clipped to the image.

  Returns int32 [n, 4] (top, bottom, left, right; half-open) and the weight
  of the first image's label, float32 [n]: 1 - (exact pixel fraction pasted).
  """
  ratio = tf.sqrt(1.0 - lam)
  cut_h = tf.cast(ratio * height, tf.int32)
  cut_w = tf.cast(ratio * width, tf.int32)
  centre = tf.random.stateless_uniform(tf.stack([tf.size(lam), 2]), seed, dtype=tf.float32)
  cy = tf.cast(centre[:, 0] * height, tf.int32)
  cx = tf.cast(centre[:, 1] * width, tf.int32)
  top, bottom = tf.clip_by_value(cy - cut_h // 2, 0, height), tf.clip_by_value(cy + cut_h // 2, 0, height)
  left, right = tf.clip_by_value(cx - cut_w // 2, 0, width), tf.clip_by_value(cx + cut_w // 2, 0, width)
  area = tf.cast((bottom - top) * (right - left), tf.float32)
  return tf.stack([top, bottom, left, right], axis=1), 1.0 - area / float(height * width)


def boxes_per_epoch(data: Data, switch: float | None = None, batch_size: int = 128) -> Callable:
  """Permutations and every CutMix box of the epoch drawn at once (per position).

  With `switch`, also a Mixup λ per position and, per batch, whether it is
  a CutMix batch (probability `switch`).
  """
  num_batches = -(-data.size // batch_size)

  def per_epoch(epoch_seed):
    lam = draws.sample_beta([data.size], ALPHA, seeds.derive(epoch_seed, _LAMBDA))
    boxes, weight = cut_boxes(lam, seeds.derive(epoch_seed, _BOX), data.height, data.width)
    positions = (*permutations(epoch_seed, data.size), boxes, weight)
    if switch is None:
      return positions, ()
    positions += (draws.sample_beta([data.size], ALPHA, seeds.derive(epoch_seed, _LAMBDA + 100)),)
    return positions, (tf.random.stateless_uniform([num_batches], seeds.derive(epoch_seed, _BOX + 100)) < switch,)

  return per_epoch


# ---------------------------------------------------------------- per-batch maps


def fetch(data: Data, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """As the stage today: gather uint8, cast, /255; gather ids, one_hot."""
  x = tf.cast(tf.gather(data.images, index), tf.float32) / 255.0
  return x, tf.one_hot(tf.gather(data.ids, index), data.num_classes, dtype=tf.float32)


def current(data):
  def fn(a, b, lambda_seed):
    (x_a, y_a), (x_b, y_b) = fetch(data, a), fetch(data, b)
    lam = draws.sample_beta(tf.shape(x_a)[:1], ALPHA, lambda_seed)
    return mixing.mix_batches(x_a, y_a, x_b, y_b, lam)

  return fn


def loader_map(data):
  def fn(a, b, lambda_seed):
    del b, lambda_seed
    return fetch(data, a)

  return fn


def const_lambda(data):
  def fn(a, b, lambda_seed):
    del lambda_seed
    (x_a, y_a), (x_b, y_b) = fetch(data, a), fetch(data, b)
    return mixing.mix_batches(x_a, y_a, x_b, y_b, tf.fill(tf.shape(a), 0.3))

  return fn


def table_labels(data):
  def fn(a, b, lambda_seed):
    x_a = tf.cast(tf.gather(data.images, a), tf.float32) / 255.0
    x_b = tf.cast(tf.gather(data.images, b), tf.float32) / 255.0
    lam = draws.sample_beta(tf.shape(x_a)[:1], ALPHA, lambda_seed)
    return mixing.mix_batches(x_a, tf.gather(data.table, a), x_b, tf.gather(data.table, b), lam)

  return fn


def no_partner(data):
  def fn(a, b, lambda_seed):
    del b
    x_a, y_a = fetch(data, a)
    lam = draws.sample_beta(tf.shape(x_a)[:1], ALPHA, lambda_seed)
    return mixing.mix_batches(x_a, y_a, x_a, y_a, lam)

  return fn


def no_arithmetic(data):
  def fn(a, b, lambda_seed):
    (x_a, y_a), (x_b, y_b) = fetch(data, a), fetch(data, b)
    return x_a, y_a, x_b, y_b, draws.sample_beta(tf.shape(x_a)[:1], ALPHA, lambda_seed)

  return fn


def epoch_lambda_current_math(data):
  def fn(a, b, lam):
    (x_a, y_a), (x_b, y_b) = fetch(data, a), fetch(data, b)
    return mixing.mix_batches(x_a, y_a, x_b, y_b, lam)

  return fn


def _labels(data, how, a, b):
  if how == "table":
    return tf.gather(data.table, a), tf.gather(data.table, b)
  if how == "eye":
    return tf.gather(data.eye, tf.gather(data.ids, a)), tf.gather(data.eye, tf.gather(data.ids, b))
  return (
    tf.one_hot(tf.gather(data.ids, a), data.num_classes, dtype=tf.float32),
    tf.one_hot(tf.gather(data.ids, b), data.num_classes, dtype=tf.float32),
  )


@tf.function(jit_compile=True)
def _mix_uint8(x_a, x_b, w_a, w_b):
  """x_a·w_a + x_b·w_b from uint8 images, compiled by XLA into one loop."""
  return tf.cast(x_a, tf.float32) * w_a + tf.cast(x_b, tf.float32) * w_b


def folded(data, labels="one_hot", xla_mix=False):
  """uint8 gathers, one cast each, /255 folded into the per-sample weights: x = x_a·(λ/255) + x_b·((1-λ)/255).

  xla_mix: the casts, products and sum in one XLA kernel (`_mix_uint8`), the gathers in TensorFlow.
  """

  def fn(a, b, lam):
    x_a, x_b = tf.gather(data.images, a), tf.gather(data.images, b)
    w_a = tf.reshape(lam, [-1, 1, 1, 1])
    w_b = 1.0 - w_a
    y_a, y_b = _labels(data, labels, a, b)
    l_a = tf.reshape(lam, [-1, 1])
    if xla_mix:
      x = _mix_uint8(x_a, x_b, w_a / 255.0, w_b / 255.0)
    else:
      x = tf.cast(x_a, tf.float32) * (w_a / 255.0) + tf.cast(x_b, tf.float32) * (w_b / 255.0)
    return x, y_a * l_a + y_b * (1.0 - l_a)

  return fn


def images_only(data):
  """With weights and labels from `mixed_labels_per_epoch`: gather, cast, x_a·w_a + x_b·w_b."""

  def fn(a, b, w_a, w_b, y):
    x_a = tf.cast(tf.gather(data.images, a), tf.float32)
    x_b = tf.cast(tf.gather(data.images, b), tf.float32)
    return x_a * w_a + x_b * w_b, y

  return fn


def images_hybrid(data):
  """`images_only` with the gathers in TensorFlow (memcpy per row) and the arithmetic in one XLA kernel."""

  def fn(a, b, w_a, w_b, y):
    return _mix_uint8(tf.gather(data.images, a), tf.gather(data.images, b), w_a, w_b), y

  return fn


def images_matmul(data):
  """`images_only` as one gather of the interleaved pairs, one cast, one batched matmul [B,1,2]·[B,2,HWC]."""

  def fn(a, b, w_a, w_b, y):
    x = tf.gather(data.images, tf.reshape(tf.stack([a, b], 1), [-1]))
    n = tf.shape(a)[0]
    x = tf.cast(tf.reshape(x, [n, 2, -1]), tf.float32)
    w = tf.reshape(tf.stack([w_a, w_b], 1), [n, 1, 2])
    return tf.reshape(tf.matmul(w, x), tf.concat([[n], tf.shape(data.images)[1:]], 0)), y

  return fn


@tf.function(jit_compile=True)
def _paste_uint8(x_a, x_b, box):
  """CutMix's select, cast and scale from uint8 images and boxes, compiled by XLA into one loop."""
  height, width = x_a.shape[1], x_a.shape[2]
  rows = tf.range(height)[tf.newaxis, :, tf.newaxis, tf.newaxis]
  cols = tf.range(width)[tf.newaxis, tf.newaxis, :, tf.newaxis]
  top, bottom, left, right = (box[:, i, tf.newaxis, tf.newaxis, tf.newaxis] for i in range(4))
  inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
  return tf.cast(tf.where(inside, x_b, x_a), tf.float32) * (1.0 / 255.0)


def cutmix_hybrid(data):
  """`cutmix_epoch` with the gathers in TensorFlow and mask, select, cast, scale in one XLA kernel."""

  def fn(a, b, box, weight):
    x = _paste_uint8(tf.gather(data.images, a), tf.gather(data.images, b), box)
    w = weight[:, tf.newaxis]
    return x, tf.gather(data.table, a) * w + tf.gather(data.table, b) * (1.0 - w)

  return fn


def per_batch_everything(data, images):
  """λ drawn per batch from its seed, label rows mixed, then `images` (as P9/P13) for the image mix."""

  def fn(a, b, lambda_seed):
    lam = draws.sample_beta(tf.shape(a), ALPHA, lambda_seed)
    w_a = tf.reshape(lam / 255.0, [-1, 1, 1, 1])
    l_a = lam[:, tf.newaxis]
    y = tf.gather(data.table, a) * l_a + tf.gather(data.table, b) * (1.0 - l_a)
    return images(a, b, w_a, 1.0 / 255.0 - w_a, y)

  return fn


@tf.function(jit_compile=True)
def _average_uint8(x_a, x_b):
  return (tf.cast(x_a, tf.float32) + tf.cast(x_b, tf.float32)) * (0.5 / 255.0)


def pair_sampling_hybrid(data):
  """Pair sampling: TF gathers, (x_a + x_b)·(0.5/255) in one XLA kernel, the first label from the one-hot table."""

  def fn(a, b):
    return _average_uint8(tf.gather(data.images, a), tf.gather(data.images, b)), tf.gather(data.table, a)

  return fn


def folded_group_lambda(data, jit=False):
  """`folded` with table labels over a group of batches, λ drawn in the call from the group's first batch seed.

  jit compiles the mixing (not the λ draw: XLA has no stateless gamma kernel).
  """
  inner = tf.function(folded(data, "table"), jit_compile=True) if jit else folded(data, "table")

  def fn(a, b, lambda_seeds):
    return inner(a, b, draws.sample_beta(tf.shape(a), ALPHA, lambda_seeds[0]))

  return fn


def folded_per_batch_lambda(data, labels="table", xla_mix=False):
  """`folded`, but λ drawn per batch from a per-batch seed, as today."""
  inner = folded(data, labels, xla_mix)

  def fn(a, b, lambda_seed):
    return inner(a, b, draws.sample_beta(tf.shape(a), ALPHA, lambda_seed))

  return fn


def concatenated(data):
  """One gather of [a; b], one cast, weights [2, B]: x = sum over the pair of x·w."""

  def fn(a, b, lam):
    n = tf.shape(a)[0]
    both = tf.concat([a, b], 0)
    x = tf.cast(tf.gather(data.images, both), tf.float32)
    x = tf.reshape(x, tf.concat([[2, n], tf.shape(x)[1:]], 0))
    w = tf.reshape(tf.stack([lam, 1.0 - lam]), [2, -1, 1, 1, 1])
    y = tf.reshape(tf.gather(data.table, both), [2, n, data.num_classes])
    return tf.reduce_sum(x * (w / 255.0), 0), tf.reduce_sum(y * w[..., 0, 0], 0)

  return fn


def cutmix_epoch(data, select_uint8=True):
  """CutMix from per-epoch boxes: mask from broadcast row/column comparisons; select, cast, scale."""
  rows = tf.range(data.height)[tf.newaxis, :, tf.newaxis, tf.newaxis]
  cols = tf.range(data.width)[tf.newaxis, tf.newaxis, :, tf.newaxis]

  def fn(a, b, box, weight):
    x_a, x_b = tf.gather(data.images, a), tf.gather(data.images, b)
    top, bottom, left, right = (box[:, i, tf.newaxis, tf.newaxis, tf.newaxis] for i in range(4))
    inside = ((rows >= top) & (rows < bottom)) & ((cols >= left) & (cols < right))  # [B, H, W, 1]
    if select_uint8:
      x = tf.cast(tf.where(inside, x_b, x_a), tf.float32) * (1.0 / 255.0)
    else:
      x = tf.where(inside, tf.cast(x_b, tf.float32) / 255.0, tf.cast(x_a, tf.float32) / 255.0)
    y_a, y_b = tf.gather(data.table, a), tf.gather(data.table, b)
    w = weight[:, tf.newaxis]
    return x, y_a * w + y_b * (1.0 - w)

  return fn


def cutmix_per_batch(data):
  """The same CutMix, but λ and centres drawn per batch from a per-batch seed."""
  inner = cutmix_epoch(data)

  def fn(a, b, lambda_seed):
    children = seeds.split(lambda_seed, 2)
    lam = draws.sample_beta(tf.shape(a), ALPHA, children[0])
    box, weight = cut_boxes(lam, children[1], data.height, data.width)
    return inner(a, b, box, weight)

  return fn


def mixup_or_cutmix(data):
  """A per-batch switch (drawn per epoch) between `folded` Mixup and `cutmix_epoch`."""
  mix, cut = folded(data, "table"), cutmix_epoch(data)

  def fn(*rows):
    a, b, box, weight, lam, use_cutmix = rows
    return tf.cond(use_cutmix, lambda: cut(a, b, box, weight), lambda: mix(a, b, lam))

  return fn


# ---------------------------------------------------------------- keras layers over the loader


def keras_layer_over_loader(train, layer):
  def mix(images, labels):
    out = layer({"images": images, "labels": labels})
    return out["images"], out["labels"]

  ds = datasets.batches(train, batch_size=_BATCH_SIZE.value, seed=0)
  return ds.map(mix, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


# ---------------------------------------------------------------- groups


def group_pieces(data):
  """CPU µs per batch of each piece of the maps, in a tf.while_loop (no tf.data, no Python per batch).

  Each piece runs 400 times on the rows of epoch 0 (per-epoch draws: 4 times,
  reported per batch). Run with --threads=1 so that the process's CPU time
  is the work itself, without idle worker threads spinning.
  """
  bs = _BATCH_SIZE.value
  full = data.size // bs
  num_batches = -(-data.size // bs)
  epoch_seed = seeds.epoch_seed(seeds.root(0), tf.constant(0, tf.int64))
  rows = lambda t: tf.reshape(t[: full * bs], [full, bs, *t.shape[1:]])  # noqa: E731
  (order_a, order_b, lam), _ = lambda_per_epoch(data)(epoch_seed)
  a_rows, b_rows, lam_rows = rows(order_a), rows(order_b), rows(lam)
  (_, _, w_a, w_b, y_mixed), _ = mixed_labels_per_epoch(data)(epoch_seed)
  w_a_rows, w_b_rows, y_rows = rows(w_a), rows(w_b), rows(y_mixed)
  (_, _, boxes, weight), _ = boxes_per_epoch(data)(epoch_seed)
  box_rows, weight_rows = rows(boxes), rows(weight)
  seed_rows = seeds.batch_seeds(epoch_seed, num_batches)
  x_u8 = tf.gather(data.images, a_rows[0])
  x_f = tf.cast(x_u8, tf.float32) / 255.0
  y_f = tf.gather(data.table, a_rows[0])
  h_rows = tf.range(data.height)[tf.newaxis, :, tf.newaxis, tf.newaxis]
  w_cols = tf.range(data.width)[tf.newaxis, tf.newaxis, :, tf.newaxis]
  mixup_layer, cutmix_layer = keras.layers.MixUp(alpha=1.0, seed=0), keras.layers.CutMix(factor=1.0, seed=0)
  cur, fold, img, cut = current(data), folded(data, "table"), images_only(data), cutmix_epoch(data)
  fold_xla = tf.function(fold, jit_compile=True)
  img_xla = tf.function(img, jit_compile=True)
  cut_xla = tf.function(cut, jit_compile=True)
  img_hybrid, img_matmul, cut_hybrid = images_hybrid(data), images_matmul(data), cutmix_hybrid(data)
  p3b, p17 = folded_per_batch_lambda(data), per_batch_everything(data, img_hybrid)
  r1, r3 = folded(data), folded(data, xla_mix=True)
  r2, r4 = folded_per_batch_lambda(data, "one_hot"), folded_per_batch_lambda(data, "one_hot", xla_mix=True)
  chunk_fn, chunk = weights_and_labels_per_chunk(data), 16
  chunk_rows = tf.reshape(a_rows[: (full // chunk) * chunk], [-1, chunk, bs])
  chunk_rows_b = tf.reshape(b_rows[: (full // chunk) * chunk], [-1, chunk, bs])
  pair_hybrid = pair_sampling_hybrid(data)

  def mask(j):
    top, bottom, left, right = (box_rows[j][:, i, tf.newaxis, tf.newaxis, tf.newaxis] for i in range(4))
    return ((h_rows >= top) & (h_rows < bottom)) & ((w_cols >= left) & (w_cols < right))

  def layer(lay, j):
    x, y = fetch(data, a_rows[j])
    out = lay({"images": x, "labels": y})
    return out["images"], out["labels"]

  per_batch = {
    "loop and row slicing only": lambda j: (a_rows[j],),
    "seeds.split(seed, 4)": lambda j: (seeds.split(seed_rows[j], 4),),
    "sample_beta [B] (per batch, as now)": lambda j: (draws.sample_beta([bs], ALPHA, seed_rows[j]),),
    "gather uint8 rows [B]": lambda j: (tf.gather(data.images, a_rows[j]),),
    "cast uint8 -> float32 [B,H,W,C]": lambda j: (tf.cast(x_u8 + tf.cast(j, tf.uint8), tf.float32),),
    "x / 255 float32 [B,H,W,C]": lambda j: (x_f / tf.cast(j + 255, tf.float32),),
    "gather ids + one_hot": lambda j: (tf.one_hot(tf.gather(data.ids, a_rows[j]), data.num_classes),),
    "gather rows of the one-hot table": lambda j: (tf.gather(data.table, a_rows[j]),),
    "mix_batches on float inputs (4-D broadcast)": lambda j: mixing.mix_batches(
      x_f, y_f, x_f * lam_rows[j][0], y_f, lam_rows[j]
    ),
    "loader map: fetch x_a": lambda j: fetch(data, a_rows[j]),
    "current Mixup map (all of it)": lambda j: cur(a_rows[j], b_rows[j], seed_rows[j]),
    "P3 map: folded + table, λ given": lambda j: fold(a_rows[j], b_rows[j], lam_rows[j]),
    "P3 map, jit_compile": lambda j: fold_xla(a_rows[j], b_rows[j], lam_rows[j]),
    "P9 map: images only, weights and labels given": lambda j: img(
      a_rows[j], b_rows[j], w_a_rows[j], w_b_rows[j], y_rows[j]
    ),
    "P9 map, jit_compile": lambda j: img_xla(a_rows[j], b_rows[j], w_a_rows[j], w_b_rows[j], y_rows[j]),
    "P3b map: folded + table, λ per batch": lambda j: p3b(a_rows[j], b_rows[j], seed_rows[j]),
    "R1 map: folded, one_hot, λ given (per epoch)": lambda j: r1(a_rows[j], b_rows[j], lam_rows[j]),
    "R2 map: R1 with λ per batch": lambda j: r2(a_rows[j], b_rows[j], seed_rows[j]),
    "R3 map: R1 + XLA cast/mix": lambda j: r3(a_rows[j], b_rows[j], lam_rows[j]),
    "R4 map: R2 + XLA cast/mix": lambda j: r4(a_rows[j], b_rows[j], seed_rows[j]),
    "P17 map: λ per batch, labels, TF gathers + XLA cast/mix": lambda j: p17(a_rows[j], b_rows[j], seed_rows[j]),
    "P13 map: P9, TF gathers + XLA cast/mix": lambda j: img_hybrid(
      a_rows[j], b_rows[j], w_a_rows[j], w_b_rows[j], y_rows[j]
    ),
    "P14 map: P9, one gather, cast, batched matmul": lambda j: img_matmul(
      a_rows[j], b_rows[j], w_a_rows[j], w_b_rows[j], y_rows[j]
    ),
    "CutMix mask from boxes [B,H,W,1]": lambda j: (mask(j),),
    "CutMix map: C1, boxes given": lambda j: cut(a_rows[j], b_rows[j], box_rows[j], weight_rows[j]),
    "CutMix map, jit_compile": lambda j: cut_xla(a_rows[j], b_rows[j], box_rows[j], weight_rows[j]),
    "C5 map: TF gathers + XLA mask/select/cast": lambda j: cut_hybrid(
      a_rows[j], b_rows[j], box_rows[j], weight_rows[j]
    ),
    "fetch x_a + keras.layers.MixUp": lambda j: layer(mixup_layer, j),
    "fetch x_a + keras.layers.CutMix": lambda j: layer(cutmix_layer, j),
    "pair_sampling map as now (fetch x2, mix_batches 0.5)": lambda j: mixing.pair_batches(
      *fetch(data, a_rows[j]), fetch(data, b_rows[j])[0]
    ),
    "pair_sampling: TF gathers + XLA (x_a + x_b)·(0.5/255)": lambda j: pair_hybrid(a_rows[j], b_rows[j]),
  }
  per_epoch = {
    "per epoch: 2 permutations": lambda j: permutations(seed_rows[j], data.size),
    "per epoch: sample_beta [N]": lambda j: (draws.sample_beta([data.size], ALPHA, seed_rows[j]),),
    "per epoch: P9's weights and mixed labels": lambda j: mixed_labels_per_epoch(data)(seed_rows[j])[0][2:],
    "per epoch: CutMix boxes and weights": lambda j: boxes_per_epoch(data)(seed_rows[j])[0][2:],
  }
  per_chunk = {  # per batch: one call per `chunk` batches
    f"per chunk of {chunk} batches: λ, weights, mixed labels": lambda j: chunk_fn(
      chunk_rows[j % len(chunk_rows)], chunk_rows_b[j % len(chunk_rows)], seed_rows[j : j + 1]
    )[2:],
  }

  def looped(fn, iterations, batches_each):
    @tf.function
    def run():
      acc = tf.constant(0.0)
      for i in tf.range(iterations):
        outs = tf.nest.flatten(fn(i % full))
        acc += tf.add_n([tf.cast(tf.reshape(o, [-1])[0], tf.float32) for o in outs])
      return acc

    def call():
      run()
      return iterations * batches_each * bs, iterations * batches_each

    return call

  built = {name: looped(fn, 400, 1) for name, fn in per_batch.items()}
  built.update({name: looped(fn, 4, num_batches) for name, fn in per_epoch.items()})
  built.update({name: looped(fn, 40, chunk) for name, fn in per_chunk.items()})
  return built, "loop and row slicing only", lambda call: call()


def group_ablation(data):
  bs = _BATCH_SIZE.value
  per_batch_seeds = seeds_per_batch(data, bs)
  variants = {
    "loader (tfmixup batches)": None,
    "mixup (tfmixup, as is)": None,
    "replica of current": current(data),
    "- λ draw (constant λ)": const_lambda(data),
    "- one_hot (rows from a one-hot table)": table_labels(data),
    "- partner fetch (x_b = x_a)": no_partner(data),
    "- mixing arithmetic (outputs unmixed)": no_arithmetic(data),
  }
  built = {name: stage(data, per_batch_seeds, f, batch_size=bs) for name, f in variants.items() if f is not None}
  built = {
    "loader (tfmixup batches)": datasets.batches(data.train, batch_size=bs, seed=0),
    "mixup (tfmixup, as is)": datasets.mixup(data.train, batch_size=bs, seed=0),
    **built,
  }
  return built, "loader (tfmixup batches)", timing.iterate


def mixup_variants(data):
  bs = _BATCH_SIZE.value
  ep = lambda_per_epoch(data)
  variants = {
    "loader (tfmixup batches)": lambda: datasets.batches(data.train, batch_size=bs, seed=0),
    "mixup (tfmixup, as is)": lambda: datasets.mixup(data.train, batch_size=bs, seed=0),
    "keras.layers.MixUp over loader": lambda: keras_layer_over_loader(data.train, keras.layers.MixUp(1.0, seed=0)),
    "P1 λ per epoch": lambda: stage(data, ep, epoch_lambda_current_math(data), batch_size=bs),
    "P2 fold /255 into λ (uint8 gathers)": lambda: stage(data, ep, folded(data), batch_size=bs),
    "P3 P2 + labels from one-hot table": lambda: stage(data, ep, folded(data, "table"), batch_size=bs),
    "P3e P2 + labels gather(eye, id)": lambda: stage(data, ep, folded(data, "eye"), batch_size=bs),
    "P3b P3 with λ per batch (seeds)": lambda: stage(
      data, seeds_per_batch(data, bs), folded_per_batch_lambda(data), batch_size=bs
    ),
    "P4 one gather of [a; b], reduce_sum": lambda: stage(data, ep, concatenated(data), batch_size=bs),
    "P5 P3, 4 batches per map call": lambda: stage(data, ep, folded(data, "table"), batch_size=bs, group=4),
    "P6 P3, map jit_compile (XLA)": lambda: stage(data, ep, folded(data, "table"), batch_size=bs, jit=True),
    "P7 P3, default tf.data rewrites on": lambda: stage(
      data, ep, folded(data, "table"), batch_size=bs, default_rewrites=True
    ),
    "P8 P3, max_intra_op_parallelism=1": lambda: stage(data, ep, folded(data, "table"), batch_size=bs, intra_op=1),
    "P9 weights and mixed labels per epoch": lambda: stage(
      data, mixed_labels_per_epoch(data), images_only(data), batch_size=bs
    ),
    "P10 P9, map jit_compile (XLA)": lambda: stage(
      data, mixed_labels_per_epoch(data), images_only(data), batch_size=bs, jit=True
    ),
    "P13 P9, TF gathers + XLA cast/mix": lambda: stage(
      data, mixed_labels_per_epoch(data), images_hybrid(data), batch_size=bs
    ),
    "P14 P9, one gather, cast, batched matmul": lambda: stage(
      data, mixed_labels_per_epoch(data), images_matmul(data), batch_size=bs
    ),
    "R1 = P2: λ per epoch, folded, one_hot per batch": lambda: stage(data, ep, folded(data), batch_size=bs),
    "R2 R1 with λ per batch (seeds)": lambda: stage(
      data, seeds_per_batch(data, bs), folded_per_batch_lambda(data, "one_hot"), batch_size=bs
    ),
    "R3 R1 + XLA cast/mix": lambda: stage(data, ep, folded(data, xla_mix=True), batch_size=bs),
    "R4 R2 + XLA cast/mix": lambda: stage(
      data, seeds_per_batch(data, bs), folded_per_batch_lambda(data, "one_hot", xla_mix=True), batch_size=bs
    ),
    "P15 P9 with λ and labels per chunk of 16 batches": lambda: stage(
      data,
      chunk_seeds(data, bs, 16),
      images_only(data),
      batch_size=bs,
      group=16,
      per_chunk=weights_and_labels_per_chunk(data),
    ),
    "P16 P15 + XLA cast/mix (P13)": lambda: stage(
      data,
      chunk_seeds(data, bs, 16),
      images_hybrid(data),
      batch_size=bs,
      group=16,
      per_chunk=weights_and_labels_per_chunk(data),
    ),
    "P17 λ per batch in the map + XLA cast/mix (P13)": lambda: stage(
      data, seeds_per_batch(data, bs), per_batch_everything(data, images_hybrid(data)), batch_size=bs
    ),
    "P11 P3b, 8 batches per call, λ per call": lambda: stage(
      data, seeds_per_batch(data, bs), folded_group_lambda(data), batch_size=bs, group=8
    ),
    "P12 P11, mixing jit_compile (XLA)": lambda: stage(
      data, seeds_per_batch(data, bs), folded_group_lambda(data, jit=True), batch_size=bs, group=8
    ),
  }
  return variants


def cutmix_variants(data):
  bs = _BATCH_SIZE.value
  variants = {
    "loader (tfmixup batches)": lambda: datasets.batches(data.train, batch_size=bs, seed=0),
    "keras.layers.CutMix over loader": lambda: keras_layer_over_loader(
      data.train, keras.layers.CutMix(factor=1.0, seed=0)
    ),
    "C1 CutMix, boxes per epoch, uint8 select": lambda: stage(
      data, boxes_per_epoch(data), cutmix_epoch(data), batch_size=bs
    ),
    "C2 C1 with float select": lambda: stage(
      data, boxes_per_epoch(data), cutmix_epoch(data, select_uint8=False), batch_size=bs
    ),
    "C3 C1 with boxes per batch (seeds)": lambda: stage(
      data, seeds_per_batch(data, bs), cutmix_per_batch(data), batch_size=bs
    ),
    "C4 C1, 4 batches per map call": lambda: stage(
      data, boxes_per_epoch(data), cutmix_epoch(data), batch_size=bs, group=4
    ),
    "C5 C1, TF gathers + XLA mask/select/cast": lambda: stage(
      data, boxes_per_epoch(data), cutmix_hybrid(data), batch_size=bs
    ),
    "C6 C1, map jit_compile (XLA)": lambda: stage(
      data, boxes_per_epoch(data), cutmix_epoch(data), batch_size=bs, jit=True
    ),
    "M1 Mixup/CutMix switch per batch (0.5)": lambda: stage(
      data, boxes_per_epoch(data, switch=0.5, batch_size=bs), mixup_or_cutmix(data), batch_size=bs
    ),
  }
  return variants


def group_mixup(data):
  return _build(mixup_variants(data)), "loader (tfmixup batches)", timing.iterate


def group_cutmix(data):
  return _build(cutmix_variants(data)), "loader (tfmixup batches)", timing.iterate


def _batches(ds, count=3):
  """The first `count` batches and the last one of an epoch, as numpy."""
  out = [tuple(t.numpy() for t in element[:2]) for element in ds]
  return out[:count] + out[-1:]


def _same(name, got, want, atol=1e-6):
  for (x, y), (x0, y0) in zip(got, want, strict=True):
    if x.shape != x0.shape or not (np.allclose(x, x0, atol=atol) and np.allclose(y, y0, atol=atol)):
      raise AssertionError(f"{name} differs from its reference")
  print(f"check: {name}: same batches as its reference", flush=True)


def check(data):
  """The prototypes compute what they claim: equal batches where they share draws; CutMix label weights exact."""
  bs = _BATCH_SIZE.value
  _same(
    "replica of the current stage",
    _batches(stage(data, seeds_per_batch(data, bs), current(data), batch_size=bs)),
    _batches(datasets.mixup(data.train, batch_size=bs, seed=0)),
  )
  mix = mixup_variants(data)
  ref = _batches(mix["P1 λ per epoch"]())
  for name in [n for n in mix if n[0] in "PR" and n[1].isdigit()]:
    if name.startswith(("P1 ", "P3b", "P11", "P12", "P15", "P16", "P17", "R2", "R4")):
      continue
    _same(name, _batches(mix[name]()), ref)
  _same(
    "P12 vs P11",
    _batches(mix["P12 P11, mixing jit_compile (XLA)"]()),
    _batches(mix[[n for n in mix if n.startswith("P11")][0]]()),
  )
  p15 = _batches(mix["P15 P9 with λ and labels per chunk of 16 batches"]())
  _same("P16 vs P15", _batches(mix["P16 P15 + XLA cast/mix (P13)"]()), p15)
  _same(
    "P17 vs P3b",
    _batches(mix["P17 λ per batch in the map + XLA cast/mix (P13)"]()),
    _batches(mix["P3b P3 with λ per batch (seeds)"]()),
  )
  _same(
    "R2 vs P3b", _batches(mix["R2 R1 with λ per batch (seeds)"]()), _batches(mix["P3b P3 with λ per batch (seeds)"]())
  )
  _same("R4 vs P3b", _batches(mix["R4 R2 + XLA cast/mix"]()), _batches(mix["P3b P3 with λ per batch (seeds)"]()))
  for got in _batches(mix["P3b P3 with λ per batch (seeds)"]()) + p15:
    # Folding /255 into the weights can round a white pixel to 1 + 1 ulp.
    if not np.allclose(got[1].sum(1), 1.0, atol=1e-5) or got[0].min() < 0 or got[0].max() > 1 + 1e-6:
      raise AssertionError("P3b, P15: label rows must sum to 1, pixels in [0, 1]")
  cut = cutmix_variants(data)
  ref = _batches(cut["C1 CutMix, boxes per epoch, uint8 select"]())
  _same("C2", _batches(cut["C2 C1 with float select"]()), ref)
  _same("C4", _batches(cut["C4 C1, 4 batches per map call"]()), ref)
  _same("C5", _batches(cut["C5 C1, TF gathers + XLA mask/select/cast"]()), ref)
  _same("C6", _batches(cut["C6 C1, map jit_compile (XLA)"]()), ref)
  # The label weight is the exact pixel fraction: recompute it from the boxes of epoch 0.
  root = seeds.root(0)
  positions, _ = boxes_per_epoch(data)(seeds.epoch_seed(root, tf.constant(0, tf.int64)))
  order_a, order_b, boxes, weight = (t.numpy() for t in positions)
  area = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
  assert np.allclose(weight, 1.0 - area / (data.height * data.width)), "weight != 1 - pasted pixel fraction"
  x, y = ref[0]
  n = len(x)
  top, bottom, left, right = boxes[0]
  want = data.train.images[order_a[0]].astype(np.float32) / 255.0
  want[top:bottom, left:right] = data.train.images[order_b[0]][top:bottom, left:right] / 255.0
  assert np.allclose(x[0], want, atol=1e-6), "CutMix image of sample 0 is not the pasted box"
  ids = data.train.labels
  want_y = np.zeros(data.num_classes)
  want_y[ids[order_a[0]]] += weight[0]
  want_y[ids[order_b[0]]] += 1.0 - weight[0]
  assert np.allclose(y[0], want_y, atol=1e-6) and n == _BATCH_SIZE.value
  print(f"check: CutMix box {boxes[0]}, label weight {weight[0]:.4f} = 1 - pasted pixel fraction", flush=True)


def _build(variants):
  only = _ONLY.value
  names = list(variants)
  keep = [n for i, n in enumerate(names) if i == 0 or not only or any(o in n for o in only)]
  return {name: variants[name]() for name in keep}


GROUPS = {"pieces": group_pieces, "ablation": group_ablation, "mixup": group_mixup, "cutmix": group_cutmix}


def main(argv):
  del argv
  if _THREADS.value:
    tf.config.threading.set_inter_op_parallelism_threads(_THREADS.value)
    tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
  train = datasets.load_arrays("mnist", "train", data_dir=_DATA_DIR.value)
  data = Data(train)
  command = shlex.join(["python", *sys.argv])
  out = {"batch_size": _BATCH_SIZE.value, "groups": {}}
  if _OUTPUT.value and os.path.exists(_OUTPUT.value):  # keep the groups not run now
    with open(_OUTPUT.value) as f:
      out = json.load(f)
  for group in _GROUPS.value:
    if group == "check":
      check(data)
      continue
    start = time.perf_counter()
    built, reference, run = GROUPS[group](data)
    t = timing.interleaved(
      built, _REPEATS.value, reference, run=run, log=lambda m, g=group: print(f"{g} {m}", flush=True)
    )
    rates = t.rates
    result = {
      "command": command,
      "date": time.strftime("%Y-%m-%d %H:%M %Z"),
      "reference": reference,
      "seconds": time.perf_counter() - start,
      "images_per_s": {n: timing.summary(v) for n, v in t.rates.items()},
      "cpu_us_per_batch": {n: timing.summary(v) for n, v in t.cpu_us.items()},
      "ratio_to_reference": {n: timing.summary(v) for n, v in t.ratios.items()},
      "extra_cpu_us_per_batch": {n: timing.summary(v) for n, v in t.extra_cpu_us.items()},
      "rates": t.rates,
      "cpu": t.cpu_us,
      "ratios": t.ratios,
    }
    out["groups"][group] = result
    print(f"\n## {group} (reference: {reference}; {_REPEATS.value} repetitions, {result['seconds']:.0f} s)")
    print(
      f"{'variant':50s} {'images/s':>9s} {'ratio (min-max)':>18s} {'CPU µs/batch (min-max)':>24s}"
      f" {'CPU - ref (min-max)':>22s}"
    )
    for n in rates:
      r, c, s = result["ratio_to_reference"][n], result["cpu_us_per_batch"][n], result["images_per_s"][n]
      e = result["extra_cpu_us_per_batch"][n]
      print(
        f"{n:50s} {s['median']:9,.0f} {r['median']:6.2f} ({r['min']:.2f}-{r['max']:.2f})"
        f" {c['median']:8,.0f} ({c['min']:,.0f}-{c['max']:,.0f}) {e['median']:7,.0f} ({e['min']:,.0f}-{e['max']:,.0f})",
        flush=True,
      )
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as f:
      json.dump(out, f, indent=1)


if __name__ == "__main__":
  app.run(main)
