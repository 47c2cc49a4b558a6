"""Does intrusion cause Mixup's penalty? The regime sweep, the causal tests and the third-class swap.

  python science_main.py --data_dir=../shared/mnist --output_dir=results/science --preset=session

The same as the installed `tfmixup-science`; flags and code in `tfmixup/study/science_app.py`.
"""

from tfmixup.study.science_app import run

if __name__ == "__main__":
  run()
