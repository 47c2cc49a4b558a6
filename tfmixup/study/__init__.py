"""The study tfmixup reproduces, kept apart from the reusable library.

The study: 陈晋泰, "Mixup 技术分析" (An analysis of the Mixup technique),
course report (student no. 11821043); the text is in `../shared/study/`
beside this repository. It claims that Mixup hurts when two classes mix
into something that looks like a third ("manifold intrusion": 6 + 9 looks
like 8), from a three-conv ReLU CNN trained with and without Mixup on MNIST
and the digit subsets {6, 8, 9} and {1, 4, 7} (its Table 1).

Modules:
  grid        the grid of runs (datasets x methods x seeds), resumable
  intrusion   how often mixes look like a third class (an ERM judge)
  tables      results as the study prints them: train (test) accuracy cells
  report      the report files: tables, CSV, figures
  reproduce   the entry point (`tfmixup-reproduce`, `reproduce_main.py`)
"""
