"""Mixup plus the same clean half: AdaMixUp's control (as RegMixup pairs mixes with their originals).

Mixes the first m examples of each batch of 2m with their partners and
appends the same m examples unmixed: what AdaMixUp's classifier sees, with
λ ~ Beta(α, α) instead of a learned policy.
"""

from __future__ import annotations

import dataclasses

from tfmixup import checks
from tfmixup.methods.deps import draws, mixing, pipeline, seeds, tf
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, even_batches, register


@dataclasses.dataclass(frozen=True)
class MixupCleanHalf(Mixer):
  """Mixup of the first m examples of each batch of 2m, followed by the same m examples unmixed.

  Attributes:
    alpha: Beta concentration α > 0; λ ~ Beta(α, α) per mixed example.
  """

  alpha: float = 1.0

  def __post_init__(self) -> None:
    object.__setattr__(self, "alpha", checks.alpha(self.alpha))

  def draw(self, seed, num_batches, batch_size: int, image_shape) -> dict:
    del image_shape
    shape = tf.stack([tf.cast(num_batches, tf.int32), batch_size // 2])
    return {"lam": draws.sample_beta(shape, self.alpha, seeds.split(seed, 1)[0])}

  def apply(self, images_a, labels_a, images_b, labels_b, drawn: dict) -> tuple:
    first, _ = pipeline.halves(images_a)
    m = tf.shape(first)[0]
    mixed, mixed_labels = mixing.mix_batches(first, labels_a[:m], images_b[:m], labels_b[:m], drawn["lam"][:m])
    return tf.concat([mixed, first], 0), tf.concat([mixed_labels, labels_a[:m]], 0)


def mixup_clean_half(data, *, batch_size: int, seed: int | None, alpha: float = 1.0, **options):
  """Mixup plus the same clean half, AdaMixUp's control (as RegMixup pairs mixes with their originals).

  Of each batch of 2m first examples, the first m are mixed with
  independent partners (λ ~ Beta(α, α) per example) and followed by the
  same m examples unmixed; the other m are not used, as AdaMixUp's
  classifier does not see them. An epoch has as many steps as AdaMixUp's.

  Args:
    data, batch_size, seed, **options: as `tfmixup.datasets.paired`;
      batch_size must be even; drop_remainder defaults to True; num_workers
      must be 1.
    alpha: Beta concentration α > 0.

  Returns:
    A `tf.data.Dataset` of `(images float32 [2m, H, W, C], labels float32
    [2m, K])`: rows [0, m) mixed, rows [m, 2m) their first examples clean.

  Raises:
    DataError, LabelError: as `paired`; also an odd batch size.
  """
  pipeline.check_even_batches(batch_size)
  pipeline.check_single_worker(options, "mixup_clean_half")
  options.setdefault("drop_remainder", True)
  return pipeline.mixing_stage(data, MixupCleanHalf(alpha), batch_size=batch_size, seed=seed, **options)


register(
  Method(
    name="mixup_clean_half",
    label="Mixup + clean half",
    function=mixup_clean_half,
    mixer=MixupCleanHalf,
    config_knobs={"alpha": "alpha"},
    check_config=even_batches,
  )
)
