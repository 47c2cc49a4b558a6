"""Run by test_remedies.py under KERAS_BACKEND=jax: the trainers under JAX's jit, on a tiny model.

Prints one JSON line: whether Manifold Mixup's jitted call mixes at the
layer its input names (one compilation, three different outputs, each
equal to the eager reference), and the weights that changed when `fit`
trained each trainer for two steps.
"""

import json

import jax
import keras
import numpy as np

from tfmixup import methods, trainers, training
from tfmixup.config import TrainConfig
from tfmixup.datasets import ImageArrays
from tfmixup.model import build_model


def tiny_data(size: int = 32) -> ImageArrays:
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (size, 18, 18, 1)).astype(np.uint8)
  labels = np.arange(size) % 3
  return ImageArrays(images=images, labels=labels, class_names=("a", "b", "c"), source_classes=(0, 1, 2))


def changed(before, after) -> bool:
  return any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def main() -> None:
  assert keras.backend.backend() == "jax"
  keras.utils.set_random_seed(0)
  data = tiny_data()
  report = {}
  trainer = trainers.ManifoldMixupTrainer(build_model((18, 18, 1), 3, filters=(4, 8, 8)))
  rng = np.random.default_rng(1)
  inputs = {
    "images": rng.random((4, 18, 18, 1), np.float32),
    "partners": rng.random((4, 18, 18, 1), np.float32),
    "lam": np.full((4, 1), 0.3, np.float32),
  }
  variables = [v.value for v in trainer.trainable_variables], [v.value for v in trainer.non_trainable_variables]
  jitted = jax.jit(lambda x: trainer.stateless_call(*variables, x)[0])
  outputs = [np.asarray(jitted({**inputs, "layer": np.int32(k)})) for k in range(3)]
  eager = [np.asarray(trainer.mixed_logits(inputs["images"], inputs["partners"], inputs["lam"], k)) for k in range(3)]
  report["compilations"] = jitted._cache_size()
  report["equal_to_eager"] = [bool(np.allclose(o, e, atol=1e-5)) for o, e in zip(outputs, eager, strict=True)]
  report["layers_differ"] = [bool(np.abs(outputs[i] - outputs[j]).max() > 1e-4) for i, j in ((0, 1), (0, 2), (1, 2))]
  for method in ("manifold_mixup", "adamixup"):
    config = TrainConfig(method=method, batch_size=16, seed=2)
    model = build_model((18, 18, 1), 3, filters=(4, 8, 8))
    trainer = methods.get(method).training_model(model, config)
    trainer.compile(
      optimizer=keras.optimizers.Adam(1e-2),
      loss=keras.losses.CategoricalCrossentropy(from_logits=True),
      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
      jit_compile=training.resolve_jit_compile(config.jit_compile),
    )
    watched = {"classifier": model.trainable_variables}
    if isinstance(trainer, trainers.AdaMixUpTrainer):
      watched.update(
        policy=trainer.policy.trainable_variables, intrusion_head=trainer.intrusion_head.trainable_variables
      )
    before = {name: [np.asarray(v) for v in variables] for name, variables in watched.items()}
    history = trainer.fit(training.training_stage(config, data), epochs=1, verbose=0, shuffle=False).history
    report[method] = {
      "jit_compile": bool(trainer.jit_compile),
      "loss_finite": bool(np.isfinite(history["loss"][0])),
      "changed": {name: changed(before[name], [np.asarray(v) for v in vs]) for name, vs in watched.items()},
    }
  print(json.dumps(report))


if __name__ == "__main__":
  main()
