"""Measuring "manifold intrusion": do mixtures of two classes look like a third?

The study argues that Mixup hurts on {6, 8, 9} because 6 + 9 resembles 8, so
mixed training examples carry a label (part 6, part 9) that contradicts what
they look like (8). It never measures that. Here, a model trained without
mixing is shown mixtures λ·x_i + (1-λ)·x_j of test images of classes i and j,
and we count how often it calls them neither i nor j.

`drawn_intrusion` measures the same on what Mixup actually trains on: the
stage's own pairs and λ (`tfmixup.study.filtering.intrusion_flags`), judged by a
nearest-neighbour or model judge (`tfmixup.datasets.judges`).
"""

import itertools
from collections.abc import Sequence

import keras
import numpy as np

from tfmixup.datasets import ImageArrays, mix_batches
from tfmixup.study.filtering import intrusion_flags

LAMBDAS = (0.3, 0.5, 0.7)


def mixtures(first: np.ndarray, second: np.ndarray, lam: float) -> np.ndarray:
  """λ·first + (1-λ)·second for uint8 or float images `[N, H, W, C]`, as float32 in [0, 1]."""
  scale = 255.0 if first.dtype == np.uint8 else 1.0
  a = first.astype(np.float32) / scale
  b = second.astype(np.float32) / scale
  no_labels = np.zeros((len(a), 1), np.float32)
  return mix_batches(a, no_labels, b, no_labels, lam)[0].numpy()


def intrusion_rates(
  model: keras.Model,
  test: ImageArrays,
  lambdas: Sequence[float] = LAMBDAS,
  seed: int = 0,
  batch_size: int = 1024,
) -> list[dict]:
  """How often a classifier assigns two-class mixtures to some other class.

  For every ordered pair of classes (i, j), i != j, each test image of class
  i is mixed with a test image of class j (a seeded random pairing, as many
  pairs as the smaller class has images) at each λ.

  Args:
    model: a classifier over `test.num_classes` classes (logits or
      probabilities; only the argmax is used), ideally trained without mixing.
    test: the test split of the same class subset.
    lambdas: the weights of the first image.
    seed: the pairing seed.
    batch_size: prediction batch size.

  Returns:
    One row per (i, j, λ): `first`, `second` (original class names), `lam`,
    `pairs`, and the fractions of mixtures predicted as `first`, `second`,
    and anything else (`intrusion`).
  """
  rng = np.random.default_rng(seed)
  by_class = [test.images[test.labels == c] for c in range(test.num_classes)]
  rows = []
  for i, j in itertools.permutations(range(test.num_classes), 2):
    n = min(len(by_class[i]), len(by_class[j]))
    first = by_class[i][rng.permutation(len(by_class[i]))[:n]]
    second = by_class[j][rng.permutation(len(by_class[j]))[:n]]
    for lam in lambdas:
      predicted = np.argmax(model.predict(mixtures(first, second, lam), batch_size=batch_size, verbose=0), axis=1)
      rows.append(
        {
          "first": test.class_names[i],
          "second": test.class_names[j],
          "lam": float(lam),
          "pairs": int(n),
          "to_first": float(np.mean(predicted == i)),
          "to_second": float(np.mean(predicted == j)),
          "intrusion": float(np.mean((predicted != i) & (predicted != j))),
        }
      )
  return rows


def drawn_intrusion(
  data: ImageArrays, judge, *, batch_size: int = 128, seed: int = 0, alpha: float = 1.0, epochs: int = 1
) -> dict:
  """The share of Mixup's actually drawn mixes that a judge assigns to neither source class.

  The mixes are those `datasets.mixup(data, batch_size=..., seed=...,
  alpha=...)` draws in epochs 0..epochs-1 (the same pairs and λ; same-class
  pairs included), judged as `filtering.intrusion_filtered_mixup` judges them.

  Args:
    data: the training split (of the class subset trained on).
    judge: images float32 `[n, H, W, C]` -> int32 class ids `[n]`, e.g.
      `judges.nearest_neighbour_judge(data)`.
    batch_size, seed, alpha: the Mixup stage's.
    epochs: epochs of mixes pooled.

  Returns:
    `{"mixes": int, "intruding": int, "rate": float, "pairs": [...]}`, with
    one row per unordered class pair drawn (original class names, lower
    class id first): `first`, `second`, `mixes`, `intruding`, `rate`.
  """
  flags = [intrusion_flags(data, judge, batch_size, seed, alpha, epoch) for epoch in range(epochs)]
  index_a = np.concatenate([f["index_a"] for f in flags])
  index_b = np.concatenate([f["index_b"] for f in flags])
  flagged = np.concatenate([f["flagged"] for f in flags])
  class_a, class_b = data.labels[index_a], data.labels[index_b]
  low, high = np.minimum(class_a, class_b), np.maximum(class_a, class_b)
  pairs = []
  for i, j in itertools.combinations_with_replacement(range(data.num_classes), 2):
    drawn = (low == i) & (high == j)
    if drawn.any():
      count, intruding = int(drawn.sum()), int(flagged[drawn].sum())
      pairs.append(
        {
          "first": data.class_names[i],
          "second": data.class_names[j],
          "mixes": count,
          "intruding": intruding,
          "rate": intruding / count,
        }
      )
  total = int(flagged.sum())
  return {"mixes": len(flagged), "intruding": total, "rate": total / len(flagged), "pairs": pairs}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
  a, b = a - a.mean(), b - b.mean()
  return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def mixture_resemblance(train: ImageArrays, classes: Sequence[int]) -> float:
  """A model-free intrusion score of a class triple (or larger set).

  With m_c the mean training image of class c: the largest, over classes k
  of the set, correlation between (m_i + m_j)/2, for the other two classes
  i, j, and m_k. High: the average of two classes looks like the third.

  Args:
    train: the full training split (all classes).
    classes: three original class labels.

  Returns:
    The score, a correlation in [-1, 1].
  """
  means = {
    c: train.images[train.labels == c].reshape(-1, np.prod(train.images.shape[1:])).mean(axis=0) for c in classes
  }
  scores = []
  for k in classes:
    for i, j in itertools.combinations([c for c in classes if c != k], 2):
      scores.append(_correlation((means[i] + means[j]) / 2, means[k]))
  return max(scores)


def pick_controls(train: ImageArrays, count: int = 2) -> list[tuple[tuple[int, ...], float]]:
  """Digit triples whose mixtures should not resemble their third class.

  Ranks all triples by `mixture_resemblance` and takes the lowest, then the
  lowest disjoint from those already taken.

  Returns:
    `count` (triple, score) pairs.
  """
  ranked = sorted(
    ((t, mixture_resemblance(train, t)) for t in itertools.combinations(range(train.num_classes), 3)),
    key=lambda ts: ts[1],
  )
  chosen: list[tuple[tuple[int, ...], float]] = []
  for triple, score in ranked:
    if all(not set(triple) & set(c) for c, _ in chosen):
      chosen.append((triple, score))
    if len(chosen) == count:
      break
  return chosen


def save_mixture_grid(
  test: ImageArrays,
  pairs: Sequence[tuple[int, int]],
  path: str,
  num_lambdas: int = 11,
  predictions: Sequence[tuple[keras.Model, Sequence[int]] | None] | None = None,
) -> None:
  """Saves a PNG: one row per class pair, λ from 1 (first class) to 0 (second).

  Args:
    test: the full test split (original labels).
    pairs: original class pairs (i, j); the first test image of each is used.
    path: the PNG to write.
    num_lambdas: columns, λ evenly spaced from 1 to 0.
    predictions: per row, an optional (model, classes) to caption each
      mixture with that model's prediction (red when neither i nor j).
  """
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415

  lambdas = np.linspace(1.0, 0.0, num_lambdas)
  fig, axes = plt.subplots(len(pairs), num_lambdas, figsize=(num_lambdas * 0.95, len(pairs) * 1.15), squeeze=False)
  for row, (i, j) in enumerate(pairs):
    first = test.images[test.labels == i][:1]
    second = test.images[test.labels == j][:1]
    images = np.concatenate([mixtures(first, second, lam) for lam in lambdas])
    caption = None
    if predictions is not None and predictions[row] is not None:
      model, classes = predictions[row]
      caption = [classes[k] for k in np.argmax(model.predict(images, verbose=0), axis=1)]
    for col, lam in enumerate(lambdas):
      ax = axes[row, col]
      ax.imshow(images[col, ..., 0], cmap="gray_r", vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      if row == 0:
        ax.set_title(f"λ={lam:.1f}", fontsize=8)
      if col == 0:
        ax.set_ylabel(f"{i} + {j}", fontsize=10)
      if caption is not None:
        color = "black" if caption[col] in (i, j) else "red"
        ax.set_xlabel(f"→ {caption[col]}", fontsize=8, color=color)
  fig.suptitle(
    "λ·(first) + (1-λ)·(second); caption: prediction of the ERM model of that subset (red: a third class)", fontsize=8
  )
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
