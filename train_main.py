"""Trains the three-conv model with or without mixing and prints the study's table.

  python train_main.py --subset=689 --mixup --data_dir=../shared/mnist
  python train_main.py --subset=689 --method=cutmix --data_dir=../shared/mnist

The same as the installed `tfmixup-train`; flags and code in `tfmixup/train_app.py`.
"""

from tfmixup.train_app import run

if __name__ == "__main__":
  run()
