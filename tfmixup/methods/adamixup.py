"""AdaMixUp (Guo, Mao, Zhang, AAAI 2019): a remedy for intrusion; a policy network sets λ inside the model.

The stage yields, of each batch of 2m first examples, m to mix, their
partners, m other originals and the uniforms u; λ is set by AdaMixUp's
policy network inside the model (`tfmixup.trainers.adamixup`). The batch
size must be even, and by default the last, smaller batch is dropped
(`drop_remainder=True`), so that every batch has m >= 1.
"""

from __future__ import annotations

import dataclasses

from tfmixup.errors import DataError
from tfmixup.methods.deps import pipeline, seeds, tf, trainers
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, even_batches, register


@dataclasses.dataclass(frozen=True)
class AdaMixUpBatches(Mixer):
  """AdaMixUp's batches: pairs to mix, other originals, and u ~ U(0, 1) per pair."""

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    del image_shape
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size // 2])
    return {"u": tf.random.stateless_uniform(shape, seeds.split(seed, 1)[0], dtype=tf.float32)}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    first, others = pipeline.halves(images_a)
    m = tf.shape(first)[0]
    inputs = {"first": first, "partners": images_b[:m], "others": others, "u": drawn["u"][:m]}
    return inputs, {"first_labels": labels_a[:m], "partner_labels": labels_b[:m]}


def adamixup_batches(data, *, batch_size: int, seed: int | None, **options):
  """AdaMixUp's batches: of each batch of 2m first examples, m to mix, their partners, m other originals.

  The stage does not mix: AdaMixUp's policy network sets each pair's λ = a
  + u·b inside the model (`tfmixup.trainers.adamixup.AdaMixUpTrainer`);
  the stage draws u ~ U(0, 1) per pair, stateless from `seed`.

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`;
      batch_size must be even; drop_remainder defaults to True; no
      schedule; num_workers must be 1.

  Returns:
    A `tf.data.Dataset` of `({"first": float32 [m, H, W, C], "partners":
    float32 [m, H, W, C], "others": float32 [m, H, W, C], "u": float32
    [m]}, {"first_labels": float32 [m, K], "partner_labels": float32 [m, K]})`.

  Raises:
    DataError, LabelError: as `paired`; also an odd batch size or a schedule.
  """
  pipeline.check_even_batches(batch_size)
  pipeline.check_single_worker(options, "adamixup_batches")
  if options.get("schedule") is not None:
    raise DataError("adamixup_batches takes no schedule: the policy network mixes every batch")
  options.setdefault("drop_remainder", True)
  return pipeline.mixing_stage(data, AdaMixUpBatches(), batch_size=batch_size, seed=seed, **options)


register(
  Method(
    name="adamixup",
    label="AdaMixUp",
    stage=lambda data, config, **options: adamixup_batches(data, **options),
    trainer=lambda model, config: trainers.AdaMixUpTrainer(model),
    check_config=even_batches,
    mixes=False,  # the stage does not mix (the policy network does, in every batch): no schedules
  )
)
