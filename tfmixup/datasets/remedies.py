"""The stages of the remedies for intrusion, where tfmixup 0.5.0 kept them: they now live with their methods.

manifold_pairs, ManifoldPairs, NUM_MIXING_POINTS   tfmixup.methods.manifold_mixup
adamixup_batches, AdaMixUpBatches                  tfmixup.methods.adamixup
mixup_clean_half, MixupCleanHalf                   tfmixup.methods.mixup_clean_half
"""

from tfmixup.methods.adamixup import AdaMixUpBatches, adamixup_batches
from tfmixup.methods.manifold_mixup import NUM_MIXING_POINTS, ManifoldPairs, manifold_pairs
from tfmixup.methods.mixup_clean_half import MixupCleanHalf, mixup_clean_half

__all__ = [
  "NUM_MIXING_POINTS",
  "AdaMixUpBatches",
  "ManifoldPairs",
  "MixupCleanHalf",
  "adamixup_batches",
  "manifold_pairs",
  "mixup_clean_half",
]
