"""ERM: plain shuffled batches, no mixing ("without" in the study's tables)."""

from tfmixup import lazy
from tfmixup.methods.registry import Method, register

_datasets = lazy.Module("tfmixup.datasets")

register(
  Method(
    name="erm",
    label="without",
    device_feed=lambda data, config, **options: _datasets.device_batches(data, **options),
    mixes=False,
  )
)
