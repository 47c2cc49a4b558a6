"""One worker of tests/test_distributed.py: trains a few Mixup steps, writes its weights and its examples.

  python tests/distributed_worker.py OUT_FILE   (TF_CONFIG or the JAX devices say who it is)

Writes OUT_FILE (.npz): the final weights (per device, on JAX) and, per epoch, the
coded indices of the first examples of this worker's (or device's) share.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from helpers import coded_arrays  # noqa: E402

from tfmixup import checkpoints, datasets, distributed, training  # noqa: E402
from tfmixup.config import TrainConfig  # noqa: E402

SIZE, BATCH, EPOCHS = 60, 12, 2


def device_parts(batch: np.ndarray) -> list[np.ndarray]:
  """A batch placed as Keras's DataParallel places inputs; each device's rows, by device id."""
  import jax  # noqa: PLC0415

  layout = keras.distribution.distribution().get_data_layout(batch.shape)
  placed = jax.device_put(batch, layout.backend_layout)
  return [np.asarray(s.data) for s in sorted(placed.addressable_shards, key=lambda s: s.device.id)]


def main(out_file: str) -> None:
  workers = distributed.from_environment()
  config = TrainConfig(method="mixup", epochs=EPOCHS, batch_size=BATCH, seed=3, jit_compile="false")
  data = coded_arrays(SIZE, num_classes=3, shape=(20, 20, 1))
  keras.utils.set_random_seed(config.seed)
  with workers.scope():
    model = training.compile_model(config, (20, 20, 1), 3)
  stage = training.training_stage(config, data, **workers.stage_options())
  sync = checkpoints.EpochSync(datasets.epoch_counter(stage), 0)
  history = checkpoints.RunHistory()
  if workers.strategy is not None:
    test = datasets.batches(data, batch_size=BATCH)
    distributed.fit_multi_worker(
      workers,
      model,
      stage,
      epochs=EPOCHS,
      initial_epoch=0,
      test=(test, data.labels),
      callbacks=[sync, history],
      verbose=0,
    )
  else:
    model.fit(stage, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[sync])
  result = {"workers": workers.num_workers}
  for n, weight in enumerate(model.weights):
    value = weight.value
    shards = getattr(value, "addressable_shards", None)  # JAX: one copy per device
    copies = [np.asarray(s.data) for s in shards] if shards else [np.asarray(weight.numpy())]
    result[f"weight{n}"] = np.stack(copies)
  # The examples of this worker's share in each epoch, from the same kind of stage unmixed
  # (prob=0: the Mixup plumbing, images left as they are, so each pixel is an example's index).
  shares = []
  for epoch in range(EPOCHS):
    probe = datasets.mixup(data, batch_size=BATCH, seed=3, prob=0.0, initial_epoch=epoch, **workers.stage_options())
    batches = [x.numpy()[:, 0, 0, 0] for x, _ in probe.take(SIZE // BATCH)]
    if workers.distribution is not None:  # JAX: each device gets its part of each batch, as Keras places it
      shares.append(np.stack([np.concatenate(parts) for parts in zip(*map(device_parts, batches), strict=True)]))
    else:
      shares.append(np.concatenate(batches)[None])
  result["shares"] = np.stack(shares)  # [epochs, devices, examples]
  np.savez(out_file, **result)


if __name__ == "__main__":
  main(sys.argv[1])
