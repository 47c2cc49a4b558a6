"""The input pipelines compared in the benchmarks, each one epoch of (images, labels) batches.

Like for like: the mixers are compared over the same loader, so a ratio
measures mixing, not loading. Every variant yields `(images float32
[B, H, W, C] in [0, 1], labels float32 [B, K])`, seeds fixed:

  a_loader                 tfmixup.datasets.batches: in-memory arrays, shuffled, no mixing
  b_tfmixup_mixup          tfmixup.datasets.mixup on the arrays
  c_tfmixup_pair_sampling  tfmixup.datasets.pair_sampling on the arrays
  d_tfmixup_cutmix         tfmixup.datasets.cutmix on the arrays
  e_tfmixup_mixup_cutmix   tfmixup.datasets.mixup_cutmix (switch_prob 0.5) on the arrays
  f_keras_MixUp            keras.layers.MixUp mapped over (a)
  g_keras_CutMix           keras.layers.CutMix mapped over (a)
  h_usual_keras_MixUp      the usual user pipeline: from_tensor_slices / shuffle / batch /
                           map(normalize, one-hot) / map(keras.layers.MixUp)
  i_tfmixup_mixup_dataset  tfmixup.datasets.mixup on a tf.data.Dataset input (optional: slow)

A tfmixup stage that this version does not have is skipped (`build` returns
None), so the script runs before and after the stages are added.
"""

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from tfmixup import datasets

AUTOTUNE = tf.data.AUTOTUNE
SEED = 0

Builder = Callable[[datasets.ImageArrays, int], tf.data.Dataset | None]


def loader(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  return datasets.batches(train, batch_size=batch_size, seed=SEED)


def _tfmixup(name: str, **kwargs) -> Builder:
  def build(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset | None:
    stage = getattr(datasets, name, None)
    if stage is None:
      return None
    return stage(train, batch_size=batch_size, seed=SEED, **kwargs)

  return build


def _keras_layer(layer: keras.layers.Layer) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
  def mix(images, labels):
    out = layer({"images": images, "labels": labels})
    return out["images"], out["labels"]

  return mix


def keras_mixup(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  mix = _keras_layer(keras.layers.MixUp(alpha=1.0, seed=SEED))
  return loader(train, batch_size).map(mix, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def keras_cutmix(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  mix = _keras_layer(keras.layers.CutMix(factor=1.0, seed=SEED))
  return loader(train, batch_size).map(mix, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def usual_keras_mixup(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  num_classes = train.num_classes

  def normalize(images, labels):
    return tf.cast(images, tf.float32) / 255.0, tf.one_hot(labels, num_classes)

  mix = _keras_layer(keras.layers.MixUp(alpha=1.0, seed=SEED))
  ds = tf.data.Dataset.from_tensor_slices((train.images, train.labels))
  ds = ds.shuffle(len(train), seed=SEED).batch(batch_size)
  ds = ds.map(normalize, num_parallel_calls=AUTOTUNE).map(mix, num_parallel_calls=AUTOTUNE)
  return ds.prefetch(AUTOTUNE)


def tfmixup_mixup_dataset(train: datasets.ImageArrays, batch_size: int) -> tf.data.Dataset:
  return datasets.mixup(train.to_dataset(), batch_size=batch_size, seed=SEED, num_classes=train.num_classes)


# name -> (description, builder); (a) first: the reference of every ratio.
VARIANTS: dict[str, tuple[str, Builder]] = {
  "a_loader": ("loader without mixing: `datasets.batches(seed=0)` on the arrays", loader),
  "b_tfmixup_mixup": ("tfmixup `mixup` on the arrays", _tfmixup("mixup")),
  "c_tfmixup_pair_sampling": ("tfmixup `pair_sampling` on the arrays", _tfmixup("pair_sampling")),
  "d_tfmixup_cutmix": ("tfmixup `cutmix` on the arrays", _tfmixup("cutmix")),
  "e_tfmixup_mixup_cutmix": ("tfmixup `mixup_cutmix` (switch_prob=0.5) on the arrays", _tfmixup("mixup_cutmix")),
  "f_keras_MixUp": ("`keras.layers.MixUp(alpha=1)` mapped over (a)", keras_mixup),
  "g_keras_CutMix": ("`keras.layers.CutMix(factor=1)` mapped over (a)", keras_cutmix),
  "h_usual_keras_MixUp": (
    "usual pipeline: `from_tensor_slices.shuffle(N).batch.map(normalize, one_hot).map(keras.layers.MixUp)`",
    usual_keras_mixup,
  ),
  "i_tfmixup_mixup_dataset": ("tfmixup `mixup` on a `tf.data.Dataset` input", tfmixup_mixup_dataset),
}
OPTIONAL = ("i_tfmixup_mixup_dataset",)  # measured only on request: ~10 s an epoch on 2 cores
REFERENCE = "a_loader"
# The targets: (numerator, denominator, bound).
TARGETS = (
  ("b_tfmixup_mixup", "a_loader", 0.6),
  ("b_tfmixup_mixup", "f_keras_MixUp", 1.2),
  ("d_tfmixup_cutmix", "g_keras_CutMix", 1.0),
)
# Further like-for-like pairs reported (pairwise per repetition).
PAIRS = (*((n, d) for n, d, _ in TARGETS), ("e_tfmixup_mixup_cutmix", "g_keras_CutMix"))


def build(train: datasets.ImageArrays, batch_size: int, names: list[str]) -> tuple[dict, list[str]]:
  """Builds the named variants; returns ({name: dataset}, [skipped names])."""
  built, skipped = {}, []
  for name in names:
    ds = VARIANTS[name][1](train, batch_size)
    if ds is None:
      skipped.append(name)
    else:
      built[name] = ds
  return built, skipped


def uint8_bytes(train: datasets.ImageArrays) -> int:
  return int(train.images.nbytes + np.asarray(train.labels, np.uint8).nbytes)
