"""Trainers: models that train a classifier on a method's stage, for methods that act inside the model.

A trainer (`tfmixup.methods.Method.trainer`) is a `keras.Model` subclass
built around the classifier: it shares the classifier's layers and weights
(and may add weights of its own, saved in the run's checkpoints), takes
the stage's batches and is compiled and fitted with Keras's `fit`, under
the TensorFlow and the JAX backend. The classifier itself, a plain
`keras.Sequential` on images, is what is evaluated and saved.

  manifold.ManifoldMixupTrainer   Manifold Mixup (Verma et al., ICML 2019)
  adamixup.AdaMixUpTrainer        AdaMixUp (Guo, Mao, Zhang, AAAI 2019)

The device feed does not apply to them: their batches are not images.
"""

from tfmixup.trainers.adamixup import AdaMixUpTrainer
from tfmixup.trainers.manifold import ManifoldMixupTrainer, mixing_points

__all__ = ["AdaMixUpTrainer", "ManifoldMixupTrainer", "mixing_points"]
