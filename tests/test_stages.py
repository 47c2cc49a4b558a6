"""The Mixup, pair-sampling and plain tf.data stages: pairing, labels, batches, seeds."""

import re

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from helpers import coded_arrays

from tfmixup import datasets
from tfmixup.datasets import DataError, LabelError
from tfmixup.study import filtering


def epoch(ds):
  """One pass: (images, labels) concatenated over batches, and the batch sizes."""
  xs, ys, sizes = [], [], []
  for x, y in ds:
    xs.append(x.numpy())
    ys.append(y.numpy())
    sizes.append(x.shape[0])
  return np.concatenate(xs), np.concatenate(ys), sizes


STAGES = {
  "mixup": lambda data, **kw: datasets.mixup(data, alpha=1.0, **kw),
  "pair_sampling": datasets.pair_sampling,
}


class PairingTest(tf.test.TestCase, parameterized.TestCase):
  """With coded images (pixel = index) the first and partner examples are readable."""

  def setUp(self):
    super().setUp()
    self.data = coded_arrays(50, num_classes=3)

  def test_pair_sampling_averages_with_partner_and_keeps_first_label(self):
    first_x, first_y, _ = epoch(datasets.batches(self.data, batch_size=8, seed=5))
    paired_x, paired_y, _ = epoch(datasets.pair_sampling(self.data, batch_size=8, seed=5))
    # The first stream of pair sampling is the shuffled stream of `batches`.
    self.assertAllEqual(paired_y, first_y)
    partner = 2 * paired_x[:, 0, 0, 0] - first_x[:, 0, 0, 0]
    # Partners are whole dataset examples, each exactly once per epoch.
    self.assertAllClose(np.sort(partner), np.arange(50), atol=1e-4)
    self.assertAllEqual(np.sort(first_x[:, 0, 0, 0]), np.arange(50))
    self.assertAllClose(paired_y.sum(axis=1), np.ones(50))
    self.assertAllEqual(paired_y.max(axis=1), np.ones(50))  # one-hot, not mixed

  def test_mixup_mixes_image_and_label_with_the_same_lambda(self):
    first_x, first_y, _ = epoch(datasets.batches(self.data, batch_size=8, seed=5))
    mixed_x, mixed_y, _ = epoch(datasets.mixup(self.data, batch_size=8, seed=5, alpha=0.5))
    a = first_x[:, 0, 0, 0]
    self.assertAllClose(mixed_y.sum(axis=1), np.ones(50), atol=1e-6)
    # y = λ y_a + (1-λ) y_b gives λ from the first label's class wherever
    # the partner has another class; then x = λ a + (1-λ) b gives b.
    lam = mixed_y[np.arange(50), np.argmax(first_y, axis=1)]
    b_label = self.data.labels
    recovered = []
    for i in range(50):
      if lam[i] < 0.999:
        b = (mixed_x[i, 0, 0, 0] - lam[i] * a[i]) / (1 - lam[i])
        recovered.append(b)
        b_index = int(round(b))
        self.assertAllClose(b, b_index, atol=2e-2)  # partner is a real example
        want = lam[i] * np.eye(3)[self.data.labels[int(a[i])]] + (1 - lam[i]) * np.eye(3)[b_label[b_index]]
        self.assertAllClose(mixed_y[i], want, atol=1e-5)
    self.assertGreater(len(recovered), 10)
    self.assertGreater(np.std(lam), 0.1)  # per-sample λ, not one per batch

  @parameterized.named_parameters(
    ("mixup_arrays", "mixup", False),
    ("pair_sampling_arrays", "pair_sampling", False),
    ("mixup_dataset", "mixup", True),
    ("pair_sampling_dataset", "pair_sampling", True),
  )
  def test_partner_is_not_itself(self, name, as_dataset):
    # Two shuffles with one seed would pair each example with itself: the
    # output would then equal the first example. Independent partners equal
    # it with probability 1/50 (Mixup: also where λ rounds to 1).
    source = self.data.to_dataset() if as_dataset else self.data
    first_x, _, _ = epoch(datasets.batches(source, batch_size=50, seed=1, num_classes=3))
    paired_x, _, _ = epoch(STAGES[name](source, batch_size=50, seed=1, num_classes=3))
    self.assertLess(np.mean(np.isclose(paired_x[:, 0, 0, 0], first_x[:, 0, 0, 0])), 0.1)


class SeedTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(("mixup", "mixup"), ("pair_sampling", "pair_sampling"))
  def test_same_seed_same_stream_new_pairs_each_epoch(self, name):
    data = coded_arrays(40)
    one = STAGES[name](data, batch_size=16, seed=7)
    two = STAGES[name](data, batch_size=16, seed=7)  # a second build of the pipeline
    epochs_one = [epoch(one)[0] for _ in range(3)]
    epochs_two = [epoch(two)[0] for _ in range(3)]
    for e1, e2 in zip(epochs_one, epochs_two, strict=True):
      self.assertAllEqual(e1, e2)
    self.assertNotAllClose(epochs_one[0], epochs_one[1])
    self.assertNotAllClose(epochs_one[1], epochs_one[2])
    other = epoch(STAGES[name](data, batch_size=16, seed=8))[0]
    self.assertNotAllClose(epochs_one[0], other)

  def test_dataset_input_is_deterministic_and_varies(self):
    data = coded_arrays(40)
    ds = data.to_dataset()
    one = datasets.mixup(ds, batch_size=16, seed=7, num_classes=3)
    two = datasets.mixup(ds, batch_size=16, seed=7, num_classes=3)
    e1, e2 = epoch(one), epoch(two)
    self.assertAllEqual(e1[0], e2[0])
    self.assertAllEqual(e1[1], e2[1])
    self.assertNotAllClose(e1[0], epoch(one)[0])

  def test_dataset_input_ignores_the_global_seed(self):
    # Dataset.shuffle would mix in TensorFlow's global seed, and fail to
    # trace for a global seed of 0: the stage gives it none.
    ds = coded_arrays(40).to_dataset()
    out = []
    for global_seed in (0, 987):
      tf.random.set_seed(global_seed)
      out.append(epoch(datasets.mixup(ds, batch_size=16, seed=7, num_classes=3)))
    self.assertAllEqual(out[0][0], out[1][0])
    self.assertAllEqual(out[0][1], out[1][1])


class BatchingTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("arrays", False, False, [3, 3, 3, 1]),
    ("arrays_drop", False, True, [3, 3, 3]),
    ("dataset", True, False, [3, 3, 3, 1]),
    ("dataset_drop", True, True, [3, 3, 3]),
  )
  def test_partial_last_batch(self, as_dataset, drop, want_sizes):
    data = coded_arrays(10)
    source = data.to_dataset() if as_dataset else data
    for build in STAGES.values():
      x, y, sizes = epoch(build(source, batch_size=3, seed=0, num_classes=3, drop_remainder=drop))
      self.assertEqual(sizes, want_sizes)
      self.assertEqual(x.shape[1:], (4, 4, 1))
      self.assertEqual(x.dtype, np.float32)
      self.assertAllClose(y.sum(axis=1), np.ones(len(y)), atol=1e-6)

  def test_keras_cardinality_known(self):
    ds = datasets.mixup(coded_arrays(10), batch_size=3, seed=0)
    self.assertEqual(int(ds.cardinality()), 4)

  def test_uint8_images_are_scaled(self):
    images = np.full((6, 2, 2, 1), 255, np.uint8)
    x, _, _ = epoch(datasets.pair_sampling((images, np.zeros(6, np.int64)), batch_size=6, seed=0, num_classes=2))
    self.assertAllClose(x, np.ones_like(x))


@pytest.mark.slow
class LabelFormatTest(tf.test.TestCase, parameterized.TestCase):
  def test_sparse_and_one_hot_give_the_same_batches(self):
    data = coded_arrays(12)
    one_hot = np.eye(3, dtype=np.float32)[data.labels]
    sparse = epoch(datasets.mixup((data.images, data.labels), batch_size=5, seed=3, num_classes=3))
    dense = epoch(datasets.mixup((data.images, one_hot), batch_size=5, seed=3))
    self.assertAllClose(sparse[0], dense[0])
    self.assertAllClose(sparse[1], dense[1])

  @parameterized.named_parameters(
    *[
      (f"{dtype}_{path}", dtype, path == "dataset")
      for dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
      for path in ("arrays", "dataset")
    ]
  )
  def test_every_integer_label_dtype(self, dtype, as_dataset):
    # tf.one_hot alone takes only uint8, int32 and int64 ids.
    data = coded_arrays(12, num_classes=3)
    labels = data.labels.astype(dtype)
    source = (data.images, labels)
    reference = epoch(datasets.mixup((data.images, data.labels), batch_size=5, seed=3, num_classes=3))
    if as_dataset:
      source = tf.data.Dataset.from_tensor_slices(source)
      reference = epoch(
        datasets.mixup(
          tf.data.Dataset.from_tensor_slices((data.images, data.labels)), batch_size=5, seed=3, num_classes=3
        )
      )
    got = epoch(datasets.mixup(source, batch_size=5, seed=3, num_classes=3))
    self.assertAllClose(got[0], reference[0])
    self.assertAllClose(got[1], reference[1])

  def test_out_of_range_wide_unsigned_ids_fail(self):
    images = np.zeros((4, 2, 2, 1), np.float32)
    labels = np.array([0, 1, 2**63 + 5, 1], np.uint64)
    with self.assertRaisesRegex(LabelError, "class ids must be in"):
      datasets.mixup((images, labels), batch_size=2, seed=0, num_classes=3)
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "class ids must be >= 0"):
      epoch(datasets.mixup(ds, batch_size=4, seed=0, num_classes=3))

  @parameterized.named_parameters(
    ("sparse_without_num_classes", np.zeros(4, np.int64), None, "pass num_classes"),
    ("int_rows", np.zeros((4, 3), np.int64), 3, "integer class ids of shape"),
    ("float_ids", np.zeros(4, np.float32), 3, "integer class ids of shape"),
    ("strings", np.array(["a"] * 4), 3, "integer class ids of shape"),
    ("width_mismatch", np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], 5, "width 3 but num_classes is 5"),
    ("id_out_of_range", np.array([0, 1, 2, 3]), 3, r"class ids must be in \[0, 3\)"),
    ("negative_id", np.array([0, -1, 2, 1]), 3, r"class ids must be in \[0, 3\)"),
    ("rows_not_summing_to_one", np.full((4, 3), 0.5, np.float32), None, "sum to 1"),
    ("zero_classes", np.zeros(4, np.int64), 0, "num_classes must be a positive integer"),
  )
  def test_bad_labels(self, labels, num_classes, message):
    images = np.zeros((4, 2, 2, 1), np.float32)
    for build in STAGES.values():
      with self.assertRaisesRegex(LabelError, message):
        build((images, labels), batch_size=2, seed=0, num_classes=num_classes)

  def test_out_of_range_ids_in_a_dataset_fail_when_iterated(self):
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2, 2, 1), np.float32), np.array([0, 1, 5, 1])))
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "num_classes=3"):
      epoch(datasets.mixup(ds, batch_size=4, seed=0, num_classes=3))

  def test_bad_label_spec_in_a_dataset(self):
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2, 2, 1), np.float32), np.zeros((4, 2, 2), np.int32)))
    with self.assertRaisesRegex(LabelError, "integer class ids"):
      datasets.pair_sampling(ds, batch_size=2, seed=0, num_classes=3)


class BadArgumentsTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ("zero", 0.0), ("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")), ("text", "one")
  )
  def test_bad_alpha(self, alpha):
    with self.assertRaisesRegex(DataError, "alpha must be"):
      datasets.mixup(coded_arrays(4), batch_size=2, seed=0, alpha=alpha)

  @parameterized.named_parameters(("zero", 0), ("negative", -3), ("float", 2.5), ("bool", True))
  def test_bad_batch_size(self, batch_size):
    with self.assertRaisesRegex(DataError, "batch_size must be a positive integer"):
      datasets.pair_sampling(coded_arrays(4), batch_size=batch_size, seed=0)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(DataError, "seed must be an integer"):
      datasets.mixup(coded_arrays(4), batch_size=2, seed=1.5)
    with self.assertRaisesRegex(DataError, "images must be uint8 or float"):
      datasets.mixup((np.zeros((4, 2), np.float32), np.zeros(4, np.int64)), batch_size=2, seed=0, num_classes=2)
    with self.assertRaisesRegex(DataError, "4 images but 3 labels"):
      datasets.mixup((np.zeros((4, 2, 2, 1)), np.zeros(3, np.int64)), batch_size=2, seed=0, num_classes=2)
    with self.assertRaisesRegex(DataError, "leaves no batch"):
      datasets.mixup(coded_arrays(4), batch_size=8, seed=0, drop_remainder=True)
    with self.assertRaisesRegex(DataError, "must be a tf.data.Dataset"):
      datasets.mixup("mnist", batch_size=8, seed=0)
    with self.assertRaisesRegex(DataError, r"\(image, label\) pairs"):
      datasets.mixup(tf.data.Dataset.range(3), batch_size=2, seed=0)
    infinite = coded_arrays(4).to_dataset().repeat()
    with self.assertRaisesRegex(DataError, "pass shuffle_buffer"):
      datasets.mixup(infinite, batch_size=2, seed=0, num_classes=3)


class EmptyImagesTest(tf.test.TestCase, parameterized.TestCase):
  STAGES = {
    "mixup": datasets.mixup,
    "cutmix": datasets.cutmix,
    "mixup_cutmix": datasets.mixup_cutmix,
    "pair_sampling": datasets.pair_sampling,
    "batches": datasets.batches,
    "manifold_pairs": datasets.manifold_pairs,
    "adamixup_batches": datasets.adamixup_batches,
    "mixup_clean_half": datasets.mixup_clean_half,
    "device_mixup": datasets.device_mixup,
    "device_cutmix": datasets.device_cutmix,
    "device_mixup_cutmix": datasets.device_mixup_cutmix,
    "device_pair_sampling": datasets.device_pair_sampling,
    "device_batches": datasets.device_batches,
    "filtered": lambda data, **o: filtering.intrusion_filtered_mixup(
      data, judge=lambda x: tf.zeros([1]), mode="drop", **o
    ),
  }

  @parameterized.product(stage=list(STAGES), shape=[(0, 4, 1), (4, 0, 1), (4, 4, 0)])
  def test_images_of_size_zero_fail_when_the_stage_is_built(self, stage, shape):
    data = (np.zeros((4, *shape), np.float32), np.arange(4) % 2)
    with self.assertRaisesRegex(DataError, r"^arrays: images must be at least 1x1 with a channel, got \[H, W, C\]"):
      self.STAGES[stage](data, batch_size=2, seed=0, num_classes=2)

  @parameterized.parameters("mixup", "cutmix", "mixup_cutmix", "pair_sampling")
  def test_dataset_of_images_of_size_zero_fails_when_the_stage_is_built(self, stage):
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2, 0, 1), np.float32), np.arange(4) % 2))
    with self.assertRaisesRegex(DataError, r"^dataset: images must be at least 1x1 with a channel"):
      self.STAGES[stage](dataset, batch_size=2, seed=0, num_classes=2)


class NumpyScalarsTest(tf.test.TestCase):
  def test_numpy_scalars_where_python_numbers_go(self):
    python = dict(batch_size=4, seed=3, alpha=0.5, label_smoothing=0.25, initial_epoch=1, num_classes=3)
    numpy = dict(
      batch_size=np.int64(4),
      seed=np.int32(3),
      alpha=np.float32(0.5),
      label_smoothing=np.float32(0.25),
      initial_epoch=np.int64(1),
      num_classes=np.int64(3),
    )
    for stage in (datasets.mixup, datasets.cutmix):
      want = next(iter(stage(coded_arrays(8), **python)))
      got = next(iter(stage(coded_arrays(8), schedule=datasets.Schedule(start=np.int64(0)), **numpy)))
      self.assertAllEqual(got[0], want[0])
      self.assertAllEqual(got[1], want[1])
    # numpy >= 2 writes np.float32(1.0), numpy 1.x writes 1.0: the message carries the value's own repr.
    want = re.escape(f"label_smoothing must be a number in [0, 1), got {np.float32(1.0)!r}")
    with self.assertRaisesRegex(DataError, want):
      datasets.mixup(coded_arrays(8), batch_size=4, seed=0, label_smoothing=np.float32(1.0))
    with self.assertRaisesRegex(DataError, "label_smoothing must be a number"):
      datasets.mixup(coded_arrays(8), batch_size=4, seed=0, label_smoothing=np.bool_(False))
    feed = datasets.device_mixup(
      coded_arrays(8), batch_size=np.int64(4), seed=np.int64(0), label_smoothing=np.float32(0.1)
    )
    self.assertLen(list(feed.batches()), 2)
    manifold = datasets.manifold_pairs(coded_arrays(8), batch_size=np.int64(4), seed=0, label_smoothing=np.float16(0.1))
    self.assertLen(list(manifold), 2)


class KerasTest(tf.test.TestCase):
  def test_feeds_a_keras_model(self):
    import keras  # noqa: PLC0415

    data = coded_arrays(32, shape=(6, 6, 1))
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    history = model.fit(datasets.mixup(data, batch_size=8, seed=0), epochs=2, verbose=0, shuffle=False)
    self.assertLen(history.history["loss"], 2)
    self.assertTrue(np.all(np.isfinite(history.history["loss"])))


class AsTensorTest(tf.test.TestCase):
  def test_adopts_aligned_arrays_and_copies_others(self):
    from tfmixup.datasets import idx, pipeline  # noqa: PLC0415

    aligned = idx.aligned_empty((4, 3))
    self.assertEqual(aligned.ctypes.data % idx.TENSOR_ALIGNMENT, 0)
    aligned[:] = 7
    adopted = pipeline.as_tensor(aligned)
    aligned[0, 0] = 9  # one buffer: the tensor sees the change
    self.assertEqual(int(adopted[0, 0]), 9)
    self.assertEqual(int(tf.reduce_sum(tf.cast(adopted, tf.int32))), 9 + 11 * 7)
    base = idx.aligned_empty((9,))
    base[:] = 3
    unaligned = base[1:]  # one byte off the alignment
    copied = pipeline.as_tensor(unaligned)
    unaligned[0] = 8
    self.assertEqual(int(copied[0]), 3)
