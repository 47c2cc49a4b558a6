"""How class-mixed MNIST's training split is in its native order (PLAN.md, round 3).

  .venv/bin/python tools/mnist_order.py [../shared/mnist]

A shuffle buffer of B examples over data in its stored order can only mix examples within about B
positions, so it leaves the classes as mixed as the stored order is. This prints, for windows of 5,000
consecutive training images (the buffer of the study-like regime), the largest gap between a class's share
in a window and its share overall; a chi-squared test of classes x windows (is the class mix the same in
every window, as it is in expectation after a full shuffle); and the longest run of one class.
"""

import gzip
import os
import sys

import numpy as np
from scipy import stats

WINDOW = 5000


def main(data_dir: str) -> None:
  with gzip.open(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
  counts = np.stack([np.bincount(w, minlength=10) for w in labels.reshape(-1, WINDOW)])  # [windows, 10]
  overall = np.bincount(labels, minlength=10) / labels.size
  gap = np.abs(counts / WINDOW - overall).max()
  chi2, p, _, _ = stats.chi2_contingency(counts)
  edges = np.flatnonzero(np.diff(labels)) + 1
  longest = np.diff(np.concatenate([[0], edges, [labels.size]])).max()
  print(f"{labels.size} training labels, {len(counts)} windows of {WINDOW}")
  print(f"largest |class share in a window - overall share|: {100 * gap:.2f} pp")
  print(f"chi-squared, classes x windows: {chi2:.1f} on {9 * (len(counts) - 1)} df, p = {p:.3f}")
  print(f"longest run of one class: {longest}")


if __name__ == "__main__":
  main(sys.argv[1] if len(sys.argv) > 1 else "../shared/mnist")
