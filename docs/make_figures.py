"""Draws the methods' pictures in the docs: the first 8 examples of a real batch of each stage, from MNIST.

  python docs/make_figures.py --data_dir=../shared/mnist

Writes `docs/figures/<method>.png` (committed; rerun after changing a method). Each tile is an image as
the model sees it, titled with its largest label weights (class: weight).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tfmixup import datasets  # noqa: E402

STAGES = {
  "mixup": lambda train: datasets.mixup(train, batch_size=64, seed=0, alpha=1.0),
  "cutmix": lambda train: datasets.cutmix(train, batch_size=64, seed=0),
  "mixup_cutmix": lambda train: datasets.mixup_cutmix(train, batch_size=64, seed=0),
  "resizemix": lambda train: datasets.resizemix(train, batch_size=64, seed=0),
  "pair_sampling": lambda train: datasets.pair_sampling(train, batch_size=64, seed=0),
  "batches": lambda train: datasets.batches(train, batch_size=64, seed=0),
}
TILES = 8


def draw(name: str, train: datasets.ImageArrays, path: str) -> None:
  images, labels = (x.numpy() for x in next(iter(STAGES[name](train))))
  figure, axes = plt.subplots(1, TILES, figsize=(1.6 * TILES, 2.0))
  for ax, image, label in zip(axes, images, labels, strict=False):
    ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    top = np.argsort(label)[::-1][:2]
    ax.set_title("\n".join(f"{c}: {label[c]:.2f}" for c in top if label[c] > 0.005), fontsize=9)
    ax.axis("off")
  figure.tight_layout()
  figure.savefig(path, dpi=80)
  plt.close(figure)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=None, help="MNIST's IDX files (default: TFDS)")
  parser.add_argument("--output_dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
  args = parser.parse_args()
  train = datasets.load_arrays("mnist", "train", data_dir=args.data_dir).take(2000)
  os.makedirs(args.output_dir, exist_ok=True)
  for name in STAGES:
    draw(name, train, os.path.join(args.output_dir, f"{name}.png"))
    print(f"wrote {os.path.join(args.output_dir, name)}.png")


if __name__ == "__main__":
  main()
