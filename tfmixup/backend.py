"""What Keras runs on: the backend, its devices, and the compilation that makes it fast.

Keras 3 runs the model on JAX, TensorFlow or PyTorch (`KERAS_BACKEND`);
tfmixup's `tf.data` stages run on TensorFlow's CPU part whatever the
backend. This module asks the backend itself which devices it trains on,
so that a JAX run on a GPU says so even though TensorFlow sees no GPU.
"""

import dataclasses

import keras
from absl import logging


@dataclasses.dataclass(frozen=True)
class BackendInfo:
  """The Keras backend and the devices it trains on.

  Attributes:
    name: "jax", "tensorflow" or "torch".
    devices: the devices the backend runs on, as it names them (e.g.
      ["cuda:0"] for JAX on a GPU, ["/physical_device:GPU:0"] for
      TensorFlow, ["TFRT_CPU_0"] for JAX on the CPU).
    accelerated: whether any of them is an accelerator (GPU or TPU).
  """

  name: str
  devices: tuple[str, ...]
  accelerated: bool


def _jax_devices() -> tuple[tuple[str, ...], bool]:
  import jax  # noqa: PLC0415 - only under the JAX backend

  devices = jax.devices()  # the default backend's: GPUs or TPUs if there are any
  return tuple(str(d) for d in devices), any(d.platform != "cpu" for d in devices)


def _tensorflow_devices() -> tuple[tuple[str, ...], bool]:
  import tensorflow as tf  # noqa: PLC0415

  accelerators = tf.config.list_physical_devices("GPU") + tf.config.list_physical_devices("TPU")
  if accelerators:
    return tuple(d.name for d in accelerators), True
  return tuple(d.name for d in tf.config.list_physical_devices("CPU")), False


def _torch_devices() -> tuple[tuple[str, ...], bool]:
  import torch  # noqa: PLC0415 - only under the PyTorch backend

  if torch.cuda.is_available():
    return tuple(f"cuda:{i}" for i in range(torch.cuda.device_count())), True
  return ("cpu",), False


def info() -> BackendInfo:
  """The current Keras backend and its devices."""
  name = keras.backend.backend()
  devices = {"jax": _jax_devices, "tensorflow": _tensorflow_devices, "torch": _torch_devices}.get(name)
  if devices is None:
    return BackendInfo(name=name, devices=("unknown",), accelerated=False)
  found, accelerated = devices()
  return BackendInfo(name=name, devices=found, accelerated=accelerated)


def resolve_jit_compile(setting: str, backend: BackendInfo | None = None) -> bool:
  """Whether to compile the training step (XLA), given "auto", "true" or "false".

  "auto" compiles where the backend needs it to be fast: always under JAX
  (un-jitted JAX ran 20x slower per step on an H200, 81 ms against 4 ms),
  TensorFlow only on an accelerator (on a 2-core CPU XLA was ~2x slower),
  never under PyTorch (`torch.compile` is slow to start and optional).
  """
  if setting != "auto":
    return setting == "true"
  backend = backend or info()
  if backend.name == "jax":
    return True
  if backend.name == "tensorflow":
    return backend.accelerated
  return False


def keep_tensorflow_off_accelerators(backend_name: str | None = None) -> bool:
  """Hides GPUs from TensorFlow unless it is the Keras backend; returns whether it did.

  Under JAX or PyTorch, TensorFlow only runs the `tf.data` pipeline, which
  needs the CPU; left alone it would claim most of a GPU's memory that the
  backend then lacks. Must run before TensorFlow first touches a device;
  later it logs a warning and changes nothing.
  """
  if (backend_name or keras.backend.backend()) == "tensorflow":
    return False
  import tensorflow as tf  # noqa: PLC0415

  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError as e:  # TensorFlow's devices are already initialized.
    logging.warning("TensorFlow may hold GPU memory: could not hide its GPUs (%s)", e)
    return False
  return True
