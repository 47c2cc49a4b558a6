"""The study's own numbers, typed once: its Table 1.

陈晋泰, "Mixup 技术分析" (An analysis of the Mixup technique), course report,
section 4, Table 1 (see `tfmixup/study/__init__.py`; the text is in
`../shared/study/`): train (test) accuracy in %, one decimal, the mean of
three runs, no spread, for the three-conv CNN trained with Mixup and without
(ERM) on MNIST and the digit subsets {6, 8, 9} and {1, 4, 7}.
"""

CITATION = '陈晋泰, "Mixup 技术分析" (An analysis of the Mixup technique), course report, section 4, Table 1'

# method: {dataset ("all" or the digits, `config.subset_name`): (train %, test %)}
TABLE1 = {
  "mixup": {"all": (98.8, 97.9), "689": (95.6, 94.5), "147": (96.8, 96.1)},
  "erm": {"all": (99.2, 98.1), "689": (97.7, 97.3), "147": (98.1, 97.2)},
}
DATASETS = tuple(TABLE1["erm"])  # the study's datasets, in its order


def test_accuracy(method: str, name: str) -> float:
  """The study's test accuracy of `method` on dataset `name`, as a fraction (97.3% -> 0.973)."""
  return round(TABLE1[method][name][1] / 100, 3)  # one decimal of a percent: three of a fraction, no float residue


def mixup_penalty(name: str) -> float:
  """The study's Mixup − ERM test accuracy on dataset `name`, in percentage points (negative: Mixup lower)."""
  return TABLE1["mixup"][name][1] - TABLE1["erm"][name][1]
