"""TensorBoard summaries of what a model trains on: a grid of mixed examples and their label weights."""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

GRID_COLUMNS = 4
GRID_EXAMPLES = 16


def example_grid(images: np.ndarray, columns: int = GRID_COLUMNS, border: int = 2) -> np.ndarray:
  """Tiles images into one picture, row by row, with a grey border between tiles.

  Args:
    images: float `[N, H, W, C]` in [0, 1].
    columns: tiles per row.
    border: pixels between tiles.

  Returns:
    float32 `[1, rows·(H+border)+border, columns·(W+border)+border, C]`,
    one image as `tf.summary.image` takes it.
  """
  images = np.asarray(images, dtype=np.float32)
  count, height, width, channels = images.shape
  rows = -(-count // columns)
  grid = np.full(
    (rows * (height + border) + border, columns * (width + border) + border, channels), 0.5, dtype=np.float32
  )
  for i, image in enumerate(images):
    top, left = border + (i // columns) * (height + border), border + (i % columns) * (width + border)
    grid[top : top + height, left : left + width] = image
  return grid[np.newaxis]


def label_weights_table(labels: np.ndarray, class_names: Sequence[str], columns: int = GRID_COLUMNS) -> str:
  """A Markdown table, laid out as the grid, of each example's non-zero label weights.

  Args:
    labels: float `[N, K]` label rows.
    class_names: K names.
    columns: cells per row, as in `example_grid`.

  Returns:
    Markdown, e.g. `| 6: 0.72, 9: 0.28 | 8: 1.00 | ...`, largest weight first.
  """
  cells = []
  for row in np.asarray(labels, dtype=np.float64):
    order = np.argsort(-row, kind="stable")
    cells.append(", ".join(f"{class_names[k]}: {row[k]:.2f}" for k in order if row[k] >= 0.005))
  lines = ["| " + " | ".join(f"col {c + 1}" for c in range(columns)) + " |", "|---" * columns + "|"]
  for start in range(0, len(cells), columns):
    chunk = cells[start : start + columns]
    lines.append("| " + " | ".join(chunk + [""] * (columns - len(chunk))) + " |")
  return "\n".join(lines)


def write_training_examples(
  log_dir: str, batches: tf.data.Dataset, class_names: Sequence[str], count: int = GRID_EXAMPLES, step: int = 0
) -> None:
  """Writes the first `count` examples of `batches`' first batch as a TensorBoard image and text.

  Pass a pipeline of its own (built like the training one, same seed): this
  one is iterated once, which would advance a stage's epoch.

  Args:
    log_dir: the summary directory, e.g. `<tensorboard>/<run>/examples`.
    batches: a dataset of `(images [B, H, W, C] in [0, 1], labels [B, K])`
      (a third element, sample weights, is ignored).
    class_names: K names for the label weights.
    count: examples shown (at most the batch size).
    step: the summary step.
  """
  images, labels = next(iter(batches.take(1)))[:2]
  images, labels = images.numpy()[:count], labels.numpy()[:count]
  writer = tf.summary.create_file_writer(log_dir)
  with writer.as_default():
    tf.summary.image(
      "training_examples",
      example_grid(np.clip(images, 0.0, 1.0)),
      step=step,
      description="The first training batch as the model sees it (mixed); label weights under TEXT.",
    )
    tf.summary.text("training_label_weights", label_weights_table(labels, class_names), step=step)
  writer.close()
