"""Training throughput by feed: how fast the three-conv model trains on each way of feeding it.

The question of issue 9: on an accelerator the feed, not the model, limited
Mixup training. Each feed trains its own copy of the model (same initial
weights, compiled as `tfmixup.training` compiles it: jit_compile "auto" for
the backend, `steps_per_execution` as given) for one epoch per measurement:

  a_arrays           model.fit on float32 arrays in memory, no mixing: the ceiling
  b_tf_data          plain tf.data (from_tensor_slices, shuffle, batch, prefetch), no mixing
  c_stage_mixup      tfmixup.datasets.mixup, the host stage
  d_device_mixup     tfmixup.datasets.device_mixup, the device feed
  e_stage_pairs      tfmixup.datasets.pair_sampling, the host stage
  f_device_pairs     tfmixup.datasets.device_pair_sampling, the device feed

Every feed first trains one untimed epoch (tracing, compilation); then each
round trains one epoch of every feed, the order rotated by one per round,
and a feed's ratio to the ceiling is taken within the round. Figures are
images per second and ratios, median (min-max) over rounds.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from tfmixup import backend, datasets
from tfmixup.model import build_model

FEEDS = {
  "a_arrays": "model.fit on float32 arrays in memory, no mixing (the ceiling)",
  "b_tf_data": "plain tf.data: from_tensor_slices, shuffle, batch, prefetch; no mixing",
  "c_stage_mixup": "tfmixup.datasets.mixup (host stage, images from tf.data)",
  "d_device_mixup": "tfmixup.datasets.device_mixup (device feed: indices from tf.data, images resident)",
  "e_stage_pairs": "tfmixup.datasets.pair_sampling (host stage)",
  "f_device_pairs": "tfmixup.datasets.device_pair_sampling (device feed)",
}
CEILING = "a_arrays"


def _compiled(model: keras.Model, steps_per_execution: int) -> keras.Model:
  model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    jit_compile=backend.resolve_jit_compile("auto"),
    steps_per_execution=steps_per_execution,
  )
  return model


def build(train: datasets.ImageArrays, batch_size: int, steps_per_execution: int) -> dict:
  """Per feed, a function that trains its model for one epoch."""
  shape, k = train.images.shape[1:], train.num_classes

  def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(shape, k)

  x = train.images.astype(np.float32) / 255.0
  y = np.eye(k, dtype=np.float32)[train.labels]
  runners = {}
  ceiling = _compiled(model(), steps_per_execution)
  runners["a_arrays"] = lambda: ceiling.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
  plain = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(batch_size)
  plain = plain.prefetch(tf.data.AUTOTUNE)
  runners["b_tf_data"] = _fit(_compiled(model(), steps_per_execution), plain)
  options = dict(batch_size=batch_size, seed=0)
  runners["c_stage_mixup"] = _fit(_compiled(model(), steps_per_execution), datasets.mixup(train, **options))
  feed = datasets.device_mixup(train, **options)
  runners["d_device_mixup"] = _fit(_compiled(feed.model(model()), steps_per_execution), feed.dataset)
  runners["e_stage_pairs"] = _fit(_compiled(model(), steps_per_execution), datasets.pair_sampling(train, **options))
  feed = datasets.device_pair_sampling(train, **options)
  runners["f_device_pairs"] = _fit(_compiled(feed.model(model()), steps_per_execution), feed.dataset)
  return runners


def _fit(model: keras.Model, data: tf.data.Dataset):
  return lambda: model.fit(data, epochs=1, shuffle=False, verbose=0)


def measure(train: datasets.ImageArrays, batch_size: int, rounds: int, steps_per_execution: int, log=print) -> dict:
  """Images/s per feed and ratio to the ceiling, per round (after a warm-up epoch each)."""
  runners = build(train, batch_size, steps_per_execution)
  names = list(runners)
  for name in names:
    runners[name]()  # warm-up: tracing and compilation
  rates = {name: [] for name in names}
  for r in range(rounds):
    for name in names[r % len(names) :] + names[: r % len(names)]:
      start = time.perf_counter()
      runners[name]()
      rates[name].append(len(train) / (time.perf_counter() - start))
    log(f"feeds batch {batch_size}: round {r + 1}/{rounds}")
  ratios = {name: [a / c for a, c in zip(rates[name], rates[CEILING], strict=True)] for name in names}
  return {"rates": rates, "ratios": ratios}
