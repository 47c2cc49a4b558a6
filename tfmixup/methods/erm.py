"""ERM: plain shuffled batches, no mixing ("without" in the study's tables)."""

from tfmixup.methods.deps import datasets
from tfmixup.methods.registry import Method, register

register(
  Method(
    name="erm",
    label="without",
    device_feed=lambda data, config, **options: datasets.device_batches(data, **options),
    mixes=False,
  )
)
