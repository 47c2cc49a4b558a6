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
  g_loop_mixup       the device feed trained by tfmixup.epoch_loop (`--loop=epoch`; JAX only)
  r_jax_reference    the same model in plain JAX, data resident, one lax.scan per epoch
                     (`jax_reference.py`; JAX only): what the hardware does

Every feed first trains one untimed epoch (tracing, compilation); then each
round trains one epoch of every feed, the order rotated by one per round,
and a feed's ratio to the ceiling is taken within the round, as is the
epoch loop's ratio to the plain-JAX reference (the number issue 21 asks
for). Figures are images per second and ratios, median (min-max) over
rounds. `model="mlp"` swaps the three-conv model for a one-hidden-layer MLP
(Flatten, Dense(128, relu), Dense(K)), where per-step overhead shows even
on a CPU.
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
  "g_loop_mixup": "tfmixup.epoch_loop.fit on tfmixup.datasets.device_mixup (--loop=epoch; JAX)",
  "r_jax_reference": "plain JAX: same model, data resident, Mixup, one lax.scan per epoch (JAX)",
}
JAX_ONLY = ("g_loop_mixup", "r_jax_reference")
CEILING = "a_arrays"
LOOP, REFERENCE = "g_loop_mixup", "r_jax_reference"


def build_mlp(input_shape, num_classes: int, hidden: int = 128) -> keras.Sequential:
  """The small-model configuration: Flatten, Dense(hidden, relu), Dense(K) (logits)."""
  layers = [keras.layers.Flatten(), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(num_classes)]
  return keras.Sequential([keras.Input(tuple(input_shape)), *layers], name="mlp")


def _compiled(model: keras.Model, steps_per_execution: int) -> keras.Model:
  model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    jit_compile=backend.resolve_jit_compile("auto"),
    steps_per_execution=steps_per_execution,
  )
  return model


def build(
  train: datasets.ImageArrays, batch_size: int, steps_per_execution: int, model_name: str = "conv", names=None
) -> dict:
  """Per feed (all, or those in `names`), a function that trains its model for one epoch.

  A function returns the number of images it trained on (None: all of `train`).
  """
  shape, k = train.images.shape[1:], train.num_classes
  on_jax = keras.backend.backend() == "jax"
  names = [n for n in FEEDS if (names is None or n in names) and (on_jax or n not in JAX_ONLY)]

  def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(shape, k) if model_name == "conv" else build_mlp(shape, k)

  x = train.images.astype(np.float32) / 255.0
  y = np.eye(k, dtype=np.float32)[train.labels]
  options = dict(batch_size=batch_size, seed=0)

  def compiled() -> keras.Model:
    return _compiled(model(), steps_per_execution)

  def device(make_feed):
    feed = make_feed(train, **options)
    return _fit(_compiled(feed.model(model()), steps_per_execution), feed.dataset)

  def arrays():
    ceiling = compiled()

    def run() -> None:
      ceiling.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)

    return run

  def plain():
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(batch_size)
    return _fit(compiled(), ds.prefetch(tf.data.AUTOTUNE))

  def loop():
    from tfmixup import epoch_loop  # noqa: PLC0415 - JAX only

    feed = datasets.device_mixup(train, **options)
    trainer = _compiled(feed.model(model()), steps_per_execution)

    def run() -> None:
      epoch_loop.fit(trainer, feed.dataset, epochs=1, verbose=0)

    return run

  def reference():
    from jax_reference import Reference  # noqa: PLC0415 - JAX only

    ref = Reference(train.images, train.labels, k, batch_size, model=model_name)

    def run() -> int:
      ref.train_epoch()
      return ref.steps * batch_size  # (the reference leaves out the last N mod B images)

    return run

  factories = {
    "a_arrays": arrays,
    "b_tf_data": plain,
    "c_stage_mixup": lambda: _fit(compiled(), datasets.mixup(train, **options)),
    "d_device_mixup": lambda: device(datasets.device_mixup),
    "e_stage_pairs": lambda: _fit(compiled(), datasets.pair_sampling(train, **options)),
    "f_device_pairs": lambda: device(datasets.device_pair_sampling),
    "g_loop_mixup": loop,
    "r_jax_reference": reference,
  }
  return {name: factories[name]() for name in names}


def _fit(model: keras.Model, data: tf.data.Dataset):
  def run() -> None:
    model.fit(data, epochs=1, shuffle=False, verbose=0)

  return run


def measure(  # noqa: PLR0913, PLR0917
  train: datasets.ImageArrays,
  batch_size: int,
  rounds: int,
  steps_per_execution: int,
  log=print,
  model_name: str = "conv",
  names=None,
) -> dict:
  """Images/s per feed, ratio to the ceiling and the loop's to the reference, per round (after a warm-up epoch)."""
  runners = build(train, batch_size, steps_per_execution, model_name, names)
  names = list(runners)
  for name in names:
    runners[name]()  # warm-up: tracing and compilation
  rates = {name: [] for name in names}
  for r in range(rounds):
    for name in names[r % len(names) :] + names[: r % len(names)]:
      start = time.perf_counter()
      images = runners[name]() or len(train)
      rates[name].append(images / (time.perf_counter() - start))
    log(f"feeds batch {batch_size}: round {r + 1}/{rounds}")
  ratios = {}
  if CEILING in rates:
    ratios = {name: [a / c for a, c in zip(rates[name], rates[CEILING], strict=True)] for name in names}
  loop_vs_reference = None
  if LOOP in rates and REFERENCE in rates:
    loop_vs_reference = [a / r for a, r in zip(rates[LOOP], rates[REFERENCE], strict=True)]
  return {"rates": rates, "ratios": ratios, "loop_vs_reference": loop_vs_reference}
