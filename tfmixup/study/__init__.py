"""The study tfmixup reproduces, kept apart from the reusable library.

The study: 陈晋泰, "Mixup 技术分析" (An analysis of the Mixup technique),
course report (student no. 11821043); the text is in `../shared/study/`
beside this repository. It claims that Mixup hurts when two classes mix
into something that looks like a third ("manifold intrusion": 6 + 9 looks
like 8), from a three-conv ReLU CNN trained with and without Mixup on MNIST
and the digit subsets {6, 8, 9} and {1, 4, 7} (its Table 1).

Modules:
  paper       the study's own numbers (its Table 1), typed once
  grid        the grid of runs (datasets x methods x seeds), resumable
  intrusion   how often mixes look like a third class (an ERM judge)
  statistics  every interval and test of the reports (paired by seed, Welch, Holm, bootstrap)
  tables      the study's labels and cells (the library's `tfmixup.tables` plus dataset labels)
  report      the report files: tables, CSV, figures
  reproduce   the entry point (`tfmixup-reproduce`, `reproduce_main.py`)
  science, science_report, science_app, regimes, confirm, confirm_report:
              the test of intrusion as the cause (`tfmixup-science`, `science_main.py`)
"""
