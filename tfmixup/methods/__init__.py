"""Training methods, one module each, registered by name: what `TrainConfig.method` and `--method` select.

  erm             plain shuffled batches ("without" in the study's tables)
  mixup           Mixup (Zhang et al., ICLR 2018)
  cutmix          CutMix (Yun et al., ICCV 2019)
  mixup_cutmix    Mixup or CutMix per sample, as timm's `Mixup`
  resizemix       ResizeMix (Qin et al., 2020)
  pair_sampling   SamplePairing (Inoue, 2018)
  manifold_mixup, adamixup, mixup_clean_half: remedies for intrusion

Each module holds a method's mixer (`mixer.Mixer`), its public stage
function and its `register(Method(...))` call; `registry.py` explains the
registry. The study's methods (intrusion filtering) register from
`tfmixup.study.filter_methods`, listed in `MODULES` so that the command
line finds them. Importing this package does not import TensorFlow.
"""

import importlib

from tfmixup.methods.mixer import Mixer
from tfmixup.methods.registry import Method, Stage, get, names, register

# The modules that register the built-in methods, imported in this order. A new method is a module here.
MODULES = (
  "erm",
  "mixup",
  "cutmix",
  "mixup_cutmix",
  "resizemix",
  "pair_sampling",
  "manifold_mixup",
  "adamixup",
  "mixup_clean_half",
  "tfmixup.study.filter_methods",
)

for _module in MODULES:
  importlib.import_module(_module if "." in _module else f"{__name__}.{_module}")

__all__ = ["Method", "Mixer", "Stage", "get", "names", "register"]
