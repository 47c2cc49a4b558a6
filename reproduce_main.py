"""Reproduces the study's Table 1 with 5 seeds, and measures manifold intrusion.

  python reproduce_main.py --data_dir=../shared/mnist --output_dir=results

The same as the installed `tfmixup-reproduce`; flags and code in `tfmixup/study/reproduce.py`.
"""

from tfmixup.study.reproduce import run

if __name__ == "__main__":
  run()
