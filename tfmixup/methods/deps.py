"""What the method modules use, imported on first use (`tfmixup.lazy`): the registry loads without TensorFlow."""

from tfmixup import lazy

tf = lazy.Module("tensorflow")
datasets = lazy.Module("tfmixup.datasets")
draws = lazy.Module("tfmixup.datasets.draws")
mixing = lazy.Module("tfmixup.datasets.mixing")
pipeline = lazy.Module("tfmixup.datasets.pipeline")
seeds = lazy.Module("tfmixup.datasets.seeds")
trainers = lazy.Module("tfmixup.trainers")
