"""tfmixup: Mixup and pair sampling as tf.data stages for Keras.

The reusable part is `tfmixup.datasets`; see the README and the docs site (`docs/`).
"""

__version__ = "0.6.0"
