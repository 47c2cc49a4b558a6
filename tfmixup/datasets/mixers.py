"""The mixers, where tfmixup 0.5.0 kept them: they now live with their methods (`tfmixup.methods`).

`tfmixup.methods.Mixer` is their base class; each method's module holds
its mixer, stage and registration. Kept so that code importing them from
here still works.
"""

from tfmixup.checks import alpha as check_alpha
from tfmixup.checks import probability as check_probability
from tfmixup.datasets.stages import Combine, Custom
from tfmixup.methods.cutmix import CutMix
from tfmixup.methods.mixer import Mixer
from tfmixup.methods.mixup import Mixup
from tfmixup.methods.mixup_cutmix import MixupOrCutMix
from tfmixup.methods.pair_sampling import PairSampling

__all__ = [
  "Combine",
  "Custom",
  "CutMix",
  "Mixer",
  "Mixup",
  "MixupOrCutMix",
  "PairSampling",
  "check_alpha",
  "check_probability",
]
