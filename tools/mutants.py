"""Breaks the stages on purpose and checks that the tests notice.

  python tools/mutants.py                 # every mutant, the default tests
  python tools/mutants.py arrays_self_pair --tests tests/test_stages.py

Each mutant is one textual change to a copy of `tfmixup/`; the tests run
against the copy (PYTHONPATH), and the script prints, per mutant, which
tests failed. A mutant no test kills is reported as SURVIVED and makes the
exit status non-zero. Not part of the suite (each mutant is a full test
run); run it after changing the stages or their tests.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE = "tfmixup/datasets/pipeline.py"
SEEDS = "tfmixup/datasets/seeds.py"
DRAWS = "tfmixup/datasets/draws.py"
MIXUP = "tfmixup/methods/mixup.py"
CUTMIX = "tfmixup/methods/cutmix.py"
MIXUP_CUTMIX = "tfmixup/methods/mixup_cutmix.py"
PAIR_SAMPLING = "tfmixup/methods/pair_sampling.py"
MIXING = "tfmixup/datasets/mixing.py"
DEVICE = "tfmixup/datasets/device_feed.py"
SHARDS = "tfmixup/datasets/shards.py"
CHECKPOINTS = "tfmixup/checkpoints.py"
TRAINING = "tfmixup/training.py"
EPOCH_LOOP = "tfmixup/epoch_loop.py"
MANIFOLD_METHOD = "tfmixup/methods/manifold_mixup.py"
ADAMIXUP_METHOD = "tfmixup/methods/adamixup.py"
CLEAN_HALF = "tfmixup/methods/mixup_clean_half.py"
MANIFOLD = "tfmixup/trainers/manifold.py"
ADAMIXUP = "tfmixup/trainers/adamixup.py"
FILTERING = "tfmixup/study/filtering.py"
JUDGES = "tfmixup/study/judges.py"
PAIRS = "tfmixup/datasets/pairs.py"
RESIZEMIX = "tfmixup/methods/resizemix.py"

# name: (what it breaks, [(file, old, new), ...])
MUTANTS = {
  "exclude_pairs_ignored": (
    "exclude_pairs: excluded pairs keep their partners (no redraw)",
    [(PAIRS, "    return tf.where(excluded, tf.gather(self.by_class, row), order_b)", "    return order_b")],
  ),
  "exclude_pairs_redraw_anywhere": (
    "exclude_pairs: the new partner drawn from every example, excluded classes included",
    [
      (
        PAIRS,
        "    return tf.where(excluded, tf.gather(self.by_class, row), order_b)",
        "    return tf.where(excluded, tf.math.floormod(words, tf.size(order_b, out_type=tf.int64)), order_b)",
      )
    ],
  ),
  "exclude_pairs_first_allowed": (
    "exclude_pairs: the new partner is always the first allowed example",
    [(PAIRS, "rank = tf.math.floormod(words, tf.maximum(total, 1))", "rank = 0 * words")],
  ),
  "exclude_pairs_no_offset": (
    "exclude_pairs: the new partner is the first example of the drawn class",
    [
      (
        PAIRS,
        "    row = tf.gather(self.class_start, partner_class) + offset",
        "    row = tf.gather(self.class_start, partner_class)",
      )
    ],
  ),
  "exclude_pairs_redraw_everywhere": (
    "exclude_pairs: every position redrawn, allowed pairs too",
    [(PAIRS, "tf.where(excluded, tf.gather(", "tf.where(tf.ones_like(excluded), tf.gather(")],
  ),
  "exclude_pairs_same_redraw_each_epoch": (
    "exclude_pairs: the redraw's stream ignores the epoch",
    [
      (
        PIPELINE,
        "redraw.redraw(order_a, order_b, seeds.stream(epoch_seed, seeds.Stream.PARTNERS))",
        "redraw.redraw(order_a, order_b, seeds.stream(root, seeds.Stream.PARTNERS))",
      )
    ],
  ),
  "arrays_self_pair": (
    "in-memory path: every example paired with itself (pass B = pass A)",
    [
      (
        PIPELINE,
        "order_b = order_of(epoch_seed, seeds.Stream.PASS_B) if mixer else order_a",
        "order_b = (order_a)",
      )
    ],
  ),
  "dataset_self_pair": (
    "tf.data.Dataset path: both shuffles from one seed, so each example meets itself",
    [(PIPELINE, "stream(seeds.Stream.SHUFFLE_B)", "stream(seeds.Stream.SHUFFLE_A)")],
  ),
  "arrays_one_lambda_per_epoch": (
    "every batch of an epoch reuses one set of λ (Mixup's and CutMix's draws)",
    [
      (
        path,
        "lam = draws.sample_beta(shape, self.alpha, lam_seed)",
        "lam = tf.repeat(draws.sample_beta([1, batch_size], self.alpha, lam_seed), shape[0], axis=0)",
      )
      for path in (MIXUP, CUTMIX)
    ],
  ),
  "dataset_one_lambda_per_epoch": (
    "tf.data.Dataset path: every batch of an epoch reuses one set of λ",
    [(SEEDS, "  return blocks.unbatch()", "  return blocks.unbatch().take(1).repeat()")],
  ),
  "arrays_no_shuffle": (
    "in-memory path: first examples in storage order (pass A not shuffled)",
    [
      (
        PIPELINE,
        "order_a = order_of(epoch_seed, seeds.Stream.PASS_A)",
        "order_a = tf.range(size, dtype=tf.int64)",
      )
    ],
  ),
  "dataset_no_shuffle": (
    "tf.data.Dataset path: first stream not shuffled",
    [
      (
        PIPELINE,
        "first = stream(seeds.Stream.SHUFFLE_A)",
        "first = dataset.batch(batch_size, drop_remainder=drop_remainder)",
      )
    ],
  ),
  "same_epoch_every_time": (
    "the epoch number never advances: every epoch repeats epoch 0's pairs and λ",
    [(SEEDS, "counter.assign_add(1) - 1", "counter.assign_add(0)")],
  ),
  "dataset_epoch_ignored": (
    "tf.data.Dataset path: the shuffle seeds ignore the epoch",
    [
      (
        PIPELINE,
        "    epoch_seed = seeds.epoch_seed(root, epoch)\n    active = epoch_active(options, epoch)\n",
        "    epoch_seed = seeds.epoch_seed(root, 0 * epoch)\n    active = epoch_active(options, epoch)\n",
      )
    ],
  ),
  "weak_permutation": (
    "index_shuffle instead of a full shuffle (tfmixup 0.1.0's permutation)",
    [
      (
        DRAWS,
        "return tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed)",
        "return tf.random.experimental.index_shuffle(tf.range(size, dtype=tf.int64), seed, size - 1)",
      )
    ],
  ),
  "fold_in_only": (
    "children seeds [h, d] from stateless_fold_in alone: one word shared (0.1.0's derivation)",
    [
      (
        SEEDS,
        "    seed = tf.random.stateless_uniform([2], folded, minval=None, maxval=None, dtype=tf.int64)",
        "    seed = folded",
      )
    ],
  ),
  "version_0_1_0": (
    "both 0.1.0 weaknesses together: fold_in-only seeds and index_shuffle permutations",
    [
      (
        SEEDS,
        "    seed = tf.random.stateless_uniform([2], folded, minval=None, maxval=None, dtype=tf.int64)",
        "    seed = folded",
      ),
      (
        DRAWS,
        "return tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed)",
        "return tf.random.experimental.index_shuffle(tf.range(size, dtype=tf.int64), seed, size - 1)",
      ),
    ],
  ),
  "box_not_clipped": (
    "CutMix boxes not clipped to the image: label weights from an area larger than the pixels taken",
    [(DRAWS, "tf.clip_by_value(cy + half_h, 0, height)", "cy + half_h")],
  ),
  "box_pixels_swapped": (
    "CutMix pastes the first image into the partner (mask inverted)",
    [
      (
        MIXING,
        "images = tf.where(mask, tf.convert_to_tensor(images_b",
        "images = tf.where(~mask, tf.convert_to_tensor(images_b",
      )
    ],
  ),
  "weights_rounded_twice": (
    "CutMix's partner weight as 1 - kept (not the pixel fraction exactly)",
    [
      (
        MIXING,
        "return tf.cast(height * width - area, tf.float32) / pixels, tf.cast(area, tf.float32) / pixels",
        "return 1.0 - tf.cast(area, tf.float32) / pixels, 1.0 - (1.0 - tf.cast(area, tf.float32) / pixels)",
      )
    ],
  ),
  "switch_shares_apply_seed": (
    "Mixup-or-CutMix: the switch flip reuses the apply flip's seed (correlated coins)",
    [
      (
        MIXUP_CUTMIX,
        "cut = draws.bernoulli(shape, self.switch_prob, switch_seed)",
        "cut = draws.bernoulli(shape, self.switch_prob, apply_seed)",
      )
    ],
  ),
  "prob_ignored": (
    "the apply probability is ignored: every sample is mixed",
    [(path, "    if self.prob < 1.0:\n", "    if False:\n") for path in (MIXUP, CUTMIX, PAIR_SAMPLING)],
  ),
  "schedule_ignored": (
    "schedules ignored: every epoch mixes",
    [
      (
        PIPELINE,
        "return None if options.schedule is None else options.schedule.active_tensor(epoch)",
        "return None",
      )
    ],
  ),
  "smoothing_skipped": (
    "label smoothing not applied",
    [
      (
        PIPELINE,
        "labels = tf.nest.map_structure(lambda y: mixing.smooth_labels(y, label_smoothing), batch[1])",
        "labels = batch[1]",
      ),
    ],
  ),
  "initial_epoch_ignored": (
    "a resumed stage starts at epoch 0 again",
    [(SEEDS, "tf.Variable(initial_epoch, dtype=tf.int64", "tf.Variable(0, dtype=tf.int64")],
  ),
  "global_seed_mixed_in": (
    "tf.data.Dataset path: Dataset.shuffle mixes in TensorFlow's global seed (0.2.0)",
    [(PIPELINE, "    tf.compat.v1.get_default_graph().seed = None\n", "")],
  ),
  "lambda_uniform": (
    "λ drawn Uniform(0, 1) whatever α (the Model Garden bug)",
    [
      (
        DRAWS,
        "  return tf.cast(tf.sigmoid(log_g1 - log_g2), tf.float32)",
        "  return tf.random.stateless_uniform(shape, seed, dtype=tf.float32)",
      )
    ],
  ),
  "device_self_pair": (
    "device feed: the layer gathers each example's own image as its partner",
    [(DEVICE, 'ops.take(self.images, inputs["index_b"], axis=0)', 'ops.take(self.images, inputs["index_a"], axis=0)')],
  ),
  "device_one_weight": (
    "device feed: one mixing weight (the batch's first) for every example of a batch",
    [
      (
        DEVICE,
        'weight = ops.cast(inputs["weight_a"], "float32")',
        'weight = ops.cast(inputs["weight_a"], "float32") * 0.0 + ops.cast(inputs["weight_a"], "float32")[0]',
      )
    ],
  ),
  "device_weights_swapped": (
    "device feed: the partner gets weight w and the example 1 - w (images disagree with labels)",
    [(DEVICE, "weight_b = ops.reshape((1.0 - weight) * self._scale", "weight_b = ops.reshape((weight) * self._scale")],
  ),
  "device_labels_unmixed": (
    "device feed: labels mixed with the example's own label instead of its partner's",
    [
      (
        PIPELINE,
        "mixer.device_batch(y_a, label_rows(index_b), drawn, image_shape)",
        "mixer.device_batch(y_a, y_a, drawn, image_shape)",
      )
    ],
  ),
  "epoch_loop_last_batch_skipped": (
    "epoch loop: a smaller last batch never trained",
    [(EPOCH_LOOP, "    if last is not None:\n      step_logs, state = steps.one(", "    if False:\n      _ = (")],
  ),
  "epoch_loop_state_dropped": (
    "epoch loop: the trained state not written back to the model's variables",
    [(EPOCH_LOOP, "    _assign(trainer, state)\n", "    pass\n")],
  ),
  "epoch_loop_first_step_logs": (
    "epoch loop: the epoch's logs from its first step, not its last",
    [(EPOCH_LOOP, "values[-1]", "values[0]")],
  ),
  "epoch_loop_metrics_kept": (
    "epoch loop: the metrics not reset between epochs",
    [(EPOCH_LOOP, "    trainer.reset_metrics()\n", "    pass\n")],
  ),
  "epoch_loop_next_epoch": (
    "epoch loop: epoch e trained on the device feed's epoch e + 1",
    [(EPOCH_LOOP, "self.whole(epoch)", "self.whole(epoch + 1)")],
  ),
  "device_cutmix_mask_inverted": (
    "device CutMix: the first image's pixels inside the box, the partner's outside (mask and 1 - mask swapped)",
    [
      (
        DEVICE,
        "return self._to_float(ops.where(inside, stored_b, stored_a))",
        "return self._to_float(ops.where(inside, stored_a, stored_b))",
      )
    ],
  ),
  "device_cutmix_box_shifted": (
    "device CutMix: the mask one row below the box the labels were weighed by",
    [
      (
        DEVICE,
        "in_rows = ops.logical_and(rows >= boxes[:, 0:1], rows < boxes[:, 2:3])",
        "in_rows = ops.logical_and(rows >= boxes[:, 0:1] + 1, rows < boxes[:, 2:3] + 1)",
      )
    ],
  ),
  "device_cutmix_unscaled": (
    "device CutMix: uint8 pixels selected but not scaled by 1/255",
    [
      (
        DEVICE,
        "return self._to_float(ops.where(inside, stored_b, stored_a))",
        'return ops.cast(ops.where(inside, stored_b, stored_a), "float32")',
      )
    ],
  ),
  "resume_restarts_stream_at_0": (
    "a resumed run's stage restarts its random stream at epoch 0 (no EpochSync, initial_epoch ignored)",
    [
      (
        TRAINING,
        "  if counter is not None:\n    callbacks.insert(0, checkpoints.EpochSync(",
        "  if False:\n    callbacks.insert(0, checkpoints.EpochSync(",
      ),
      (
        TRAINING,
        "training_stage(config, data.train, initial_epoch=initial_epoch,",
        "training_stage(config, data.train,",
      ),
    ],
  ),
  "epoch_sync_off": (
    "the stage's counter is not tied to Keras's epoch (a strategy's look-ahead shifts every epoch)",
    [(CHECKPOINTS, "    self.counter.set_next_epoch(self.initial_epoch)", "    pass")],
  ),
  "shard_overlap": (
    "every worker takes the first rows of each batch: examples used twice, others never",
    [
      (
        SHARDS,
        "  return worker_index * size // num_workers, (worker_index + 1) * size // num_workers",
        "  return 0, size // num_workers",
      )
    ],
  ),
  "checksum_ignored": (
    "a damaged checkpoint is not detected by its checksum",
    [(CHECKPOINTS, '    if _sha256(weights) != meta["weights_sha256"]:', "    if False:")],
  ),
  "partial_epoch_saved": (
    "an epoch cut short by a stop request is saved as finished",
    [(CHECKPOINTS, "    if stop_requested() is not None or (steps and self._last_step + 1 < steps):", "    if False:")],
  ),
  # The study's regimes (issue 11): tests/test_regimes.py.
  "buffer_is_full_shuffle": (
    "sorted_buffer: a full permutation instead of a shuffle buffer (the fault not reproduced)",
    [(DRAWS, "  pool = list(order[:buffer])", "  pool, buffer = list(order), len(order)")],
  ),
  "buffer_takes_newest": (
    "the shuffle buffer always emits its newest element (not a uniform slot)",
    [(DRAWS, "    pick = int(uniform[t] * len(pool))", "    pick = len(pool) - 1")],
  ),
  "sorted_buffer_ignored": (
    "the stage ignores sorted_buffer (full permutations)",
    [
      (
        PIPELINE,
        "  if options.sorted_buffer is None:\n    return lambda",
        "  if True:\n    return lambda",
      )
    ],
  ),
  "fraction_ignored": (
    "fraction < 1 trains the whole epoch",
    [(TRAINING, "    stage = stage.take(fraction_steps(config, len(data.train)))", "    pass")],
  ),
  "input_scale_ignored": (
    "input_scale does not reach the model",
    [(TRAINING, "input_scale=config.input_scale", "input_scale=1.0")],
  ),
  "per_class_is_first_n": (
    "train_per_class takes the first N·K examples, not N of each class",
    [
      (
        "tfmixup/datasets/sources.py",
        "      keep[np.flatnonzero(self.labels == label)[:count]] = True",
        "      keep[: count * len(np.unique(self.labels))] = True",
      )
    ],
  ),
  "manifold_layer_frozen": (
    "Manifold Mixup mixes at the input whatever layer the batch names (a choice frozen at trace time)",
    [(MANIFOLD, "return ops.switch(layer, branches,", "return ops.switch(0, branches,")],
  ),
  "manifold_layer_not_uniform": (
    "Manifold Mixup's stage draws the layer from {0, 1} only",
    [(MANIFOLD_METHOD, "minval=0, maxval=self.num_points, dtype=tf.int32)", "minval=0, maxval=2, dtype=tf.int32)")],
  ),
  "adamixup_lambda_outside": (
    "AdaMixUp's λ is u itself, not a + u·b within the policy's interval",
    [
      (
        ADAMIXUP,
        'return low + ops.cast(inputs["u"], "float32") * width, low',
        'return ops.cast(inputs["u"], "float32"), low',
      )
    ],
  ),
  "adamixup_policy_no_gradient": (
    "AdaMixUp's λ is cut from the gradient: the policy never learns",
    [
      (
        ADAMIXUP,
        "lam, _, _ = self.policy_lambdas(inputs, training)",
        "lam = ops.stop_gradient(self.policy_lambdas(inputs, training)[0])",
      )
    ],
  ),
  "adamixup_no_intrusion_loss": (
    "AdaMixUp's discriminator loss is computed but not added to the loss",
    [(ADAMIXUP, "    self.add_loss(\n", "    (\n")],
  ),
  "adamixup_others_are_first": (
    "AdaMixUp's other originals are the first examples again",
    [(ADAMIXUP_METHOD, '"others": others,', '"others": first,')],
  ),
  "clean_half_not_clean": (
    "Mixup + clean half: the second half is the partners, not the mixed examples clean",
    [(CLEAN_HALF, "return tf.concat([mixed, first], 0)", "return tf.concat([mixed, images_b[:m]], 0)")],
  ),
  "clean_half_lambda_uniform": (
    "Mixup + clean half: λ drawn Uniform(0, 1) whatever α",
    [
      (
        CLEAN_HALF,
        'return {"lam": draws.sample_beta(shape, self.alpha, seeds.split(seed, 1)[0])}',
        'return {"lam": tf.random.stateless_uniform(shape, seeds.split(seed, 1)[0])}',
      )
    ],
  ),
  "trainer_hook_ignored": (
    "build_trainer compiles the model itself, not the method's trainer",
    [(TRAINING, "method.training_model(model, config) if feed is None", "model if feed is None")],
  ),
  "filter_drops_nothing": (
    "intrusion filter: flagged mixes keep weight 1",
    [(FILTERING, '{"drop": flags["flagged"], ', '{"drop": tf.zeros_like(flags["flagged"]), ')],
  ),
  "judge_sees_unmixed": (
    "intrusion filter: the judge sees the first image, not the mix",
    [(FILTERING, "no_labels, tf.gather(images, b), no_labels", "no_labels, tf.gather(images, a), no_labels")],
  ),
  "relabel_everywhere": (
    "relabel mode: every mix gets the judge's class, flagged or not",
    [(FILTERING, 'tf.where(flags["flagged"], flags["judged"], -1)', 'flags["judged"]')],
  ),
  "control_drops_flagged": (
    "control: flagged and non-flagged mixes of a stratum drawn from alike (flagged ones dropped too)",
    [
      (FILTERING, "group = stratum * 2 + tf.cast(flagged, tf.int32)", "group = stratum * 2"),
      (FILTERING, "return ~flagged & (rank < tf.gather(wanted, stratum))", "return rank < tf.gather(wanted, stratum)"),
    ],
  ),
  "control_ignores_strata": (
    "control: as many random non-flagged drops as flagged mixes, over the whole epoch, not per stratum",
    [(FILTERING, "control_drops(flagged, stratum, ", "control_drops(flagged, 0 * stratum, ")],
  ),
  "control_strata_ordered": (
    "control: λ bins of the first image's weight, so (a, b, λ) and (b, a, 1 - λ) fall in different strata",
    [(FILTERING, "weight_low = tf.where(class_a <= class_b, lam, 1.0 - lam)", "weight_low = lam")],
  ),
  "control_first_in_stream": (
    "control: drops the first non-flagged mixes of a stratum in stream order, not a random choice",
    [
      (
        FILTERING,
        "keys = tf.random.stateless_uniform([count], seed, dtype=tf.float64)",
        "keys = tf.cast(tf.range(count), tf.float64) / tf.cast(count + 1, tf.float64)",
      )
    ],
  ),
  "control_same_keys_every_epoch": (
    "control: the drop keys do not depend on the epoch",
    [
      (
        FILTERING,
        "control_seed = seeds.stream(epoch_seed, seeds.Stream.CONTROL)",
        "control_seed = tf.constant([1, 2], tf.int64)",
      )
    ],
  ),
  "nn_ties_to_later_block": (
    "nearest-neighbour judge: a tie across blocks goes to the later training image",
    [(JUDGES, "better = low < best_dist", "better = low <= best_dist")],
  ),
  "nn_wrong_distance": (
    "nearest-neighbour judge: the training images' norms counted half (not squared L2)",
    [(JUDGES, " + row_norms[tf.newaxis, :]", " + 0.5 * row_norms[tf.newaxis, :]")],
  ),
  "resizemix_cropped_not_resized": (
    "ResizeMix: the box shows the partner's top-left corner (cropped), not the whole partner resized",
    [
      (
        RESIZEMIX,
        "return tf.clip_by_value((at * extent) // size, 0, extent - 1)",
        "return tf.clip_by_value(at, 0, extent - 1)",
      )
    ],
  ),
  "resizemix_one_scale_per_batch": (
    "ResizeMix: one scale τ for every sample of a batch",
    [
      (
        RESIZEMIX,
        "scale = tf.random.stateless_uniform(shape, scale_seed, minval=self.scale_min, maxval=self.scale_max)",
        "scale = tf.random.stateless_uniform(shape[:1], scale_seed, minval=self.scale_min, maxval=self.scale_max)"
        "[:, tf.newaxis] + tf.zeros(shape)",
      )
    ],
  ),
  "resizemix_box_at_the_corner": (
    "ResizeMix: every box at the top-left corner",
    [(RESIZEMIX, "top, left = start(h, height, row_seed), start(w, width, col_seed)", "top, left = 0 * h, 0 * w")],
  ),
}

REMEDY_TESTS = "tests/test_remedies.py"
EPOCH_LOOP_TESTS = "tests/test_epoch_loop.py::RefusalsTest::test_jax_tests_pass"  # (the JAX tests, in a subprocess)
# The tests a mutant runs when --tests is not given (default: DEFAULT_TESTS).
MUTANT_TESTS = {
  **{name: [EPOCH_LOOP_TESTS] for name in MUTANTS if name.startswith("epoch_loop_")},
  **{name: ["tests/test_pairs.py::ExcludePairsStageTest"] for name in MUTANTS if name.startswith("exclude_pairs_")},
  "manifold_layer_frozen": [f"{REMEDY_TESTS}::ManifoldTrainerTest"],
  "manifold_layer_not_uniform": [f"{REMEDY_TESTS}::ManifoldStageTest"],
  "adamixup_lambda_outside": [f"{REMEDY_TESTS}::AdaMixUpTrainerTest"],
  "adamixup_policy_no_gradient": [f"{REMEDY_TESTS}::AdaMixUpTrainerTest"],
  "adamixup_no_intrusion_loss": [f"{REMEDY_TESTS}::AdaMixUpTrainerTest"],
  "adamixup_others_are_first": [f"{REMEDY_TESTS}::AdaMixUpStageTest"],
  "clean_half_not_clean": [f"{REMEDY_TESTS}::MixupCleanHalfTest"],
  "clean_half_lambda_uniform": [f"{REMEDY_TESTS}::MixupCleanHalfTest"],
  "trainer_hook_ignored": ["tests/test_methods.py", f"{REMEDY_TESTS}::ManifoldTrainerTest"],
  "buffer_is_full_shuffle": [
    "tests/test_regimes.py::BufferedShuffleTest",
    "tests/test_regimes.py::SortedBufferStageTest",
  ],
  "buffer_takes_newest": ["tests/test_regimes.py::BufferedShuffleTest"],
  "sorted_buffer_ignored": ["tests/test_regimes.py::SortedBufferStageTest"],
  "fraction_ignored": ["tests/test_regimes.py::ModelAndTrainingTest"],
  "input_scale_ignored": ["tests/test_regimes.py::ModelAndTrainingTest"],
  "per_class_is_first_n": ["tests/test_regimes.py::DataTest"],
  "resizemix_cropped_not_resized": ["tests/test_resizemix.py"],
  "resizemix_one_scale_per_batch": ["tests/test_resizemix.py::DrawTest"],
  "resizemix_box_at_the_corner": ["tests/test_resizemix.py::DrawTest"],
  **{name: ["tests/test_device_feed.py"] for name in MUTANTS if name.startswith("device_cutmix_")},
}

DEFAULT_TESTS = [
  "tests/test_pairing.py",
  "tests/test_seeds.py",
  "tests/test_stages.py",
  "tests/test_draws.py",
  "tests/test_mixers.py",
  "tests/test_schedules.py",
  "tests/test_device_feed.py",
  "tests/test_filtering.py",
  "tests/test_judges.py",
]


def apply(copy_root: str, edits) -> None:
  for path, old, new in edits:
    full = os.path.join(copy_root, path)
    with open(full) as f:
      text = f.read()
    if old not in text:
      raise SystemExit(f"mutants.py: the code changed, {path} no longer contains: {old!r}")
    with open(full, "w") as f:
      f.write(text.replace(old, new))


def run(name: str, tests: list[str]) -> list[str]:
  """Returns the failed tests' ids under mutant `name`."""
  with tempfile.TemporaryDirectory() as tmp:
    shutil.copytree(os.path.join(ROOT, "tfmixup"), os.path.join(tmp, "tfmixup"))
    apply(tmp, MUTANTS[name][1])
    env = dict(os.environ, PYTHONPATH=tmp, TF_CPP_MIN_LOG_LEVEL="3")
    # -P: no current directory on sys.path, so the mutant copy (PYTHONPATH)
    # is imported, not the checkout.
    where = subprocess.run(
      [sys.executable, "-P", "-c", "import tfmixup; print(tfmixup.__file__)"],
      cwd=ROOT,
      env=env,
      capture_output=True,
      text=True,
      check=True,
    ).stdout.strip()
    if not where.startswith(tmp):
      raise SystemExit(f"mutants.py: the tests would import {where}, not the mutant")
    proc = subprocess.run(
      [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *tests],
      cwd=ROOT,
      env=env,
      capture_output=True,
      text=True,
      check=False,
    )
    return re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.M)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("names", nargs="*", default=list(MUTANTS), help="mutants to run (default: all)")
  parser.add_argument(
    "--tests", nargs="+", default=None, help="default: the mutant's own (MUTANT_TESTS) or DEFAULT_TESTS"
  )
  args = parser.parse_args()
  survived = []
  for name in args.names:
    failed = run(name, args.tests or MUTANT_TESTS.get(name, DEFAULT_TESTS))
    print(f"## {name}: {MUTANTS[name][0]}")
    print(f"   {'KILLED by ' + str(len(failed)) + ' test(s)' if failed else 'SURVIVED'}")
    for test in failed:
      print(f"   - {test}")
    sys.stdout.flush()
    if not failed:
      survived.append(name)
  sys.exit(1 if survived else 0)


if __name__ == "__main__":
  main()
