"""Benchmarks: input pipeline throughput, training time per epoch, pipeline memory.

  python benchmarks/bench_main.py --data_dir=../shared/mnist

Full MNIST, batch 128. Writes benchmarks/results.json and BENCHMARKS.md.
Variants are interleaved within each repetition (rotating the order) so
that machine noise hits them alike; figures are medians with min and max.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

_DATA_DIR = flags.DEFINE_string("data_dir", "../shared/mnist", "MNIST IDX directory.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Repetitions of each pipeline epoch.", lower_bound=1)
_EPOCHS = flags.DEFINE_integer("epochs", 5, "Timed training epochs per configuration (after one warm-up).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Batch size.")
_PARTS = flags.DEFINE_list("parts", ["pipeline", "training", "memory"], "Which parts to run.")
_MEMORY_CHILD = flags.DEFINE_string("memory_child", None, "Internal: measure one variant's memory and print JSON.")
_OUTPUT = flags.DEFINE_string("output", "benchmarks/results.json", "Results JSON.")
_MARKDOWN = flags.DEFINE_string("markdown", "BENCHMARKS.md", "Report to write.")
_RENDER_ONLY = flags.DEFINE_bool("render_only", False, "Rewrite the report from --output's JSON; measure nothing.")


def _summary(values):
  return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def bench_pipeline(train):
  import pipelines  # noqa: PLC0415

  names = list(pipelines.VARIANTS)
  built = {name: pipelines.VARIANTS[name](train, _BATCH_SIZE.value) for name in names}
  for name in names:  # untimed warm-up: tracing, shuffle buffers, thread pools
    pipelines.iterate(built[name])
  rates = {name: [] for name in names}
  for rep in range(_REPEATS.value):
    for name in names[rep % len(names) :] + names[: rep % len(names)]:
      start = time.perf_counter()
      n = pipelines.iterate(built[name])
      rates[name].append(n / (time.perf_counter() - start))
    print(f"pipeline repetition {rep + 1}/{_REPEATS.value}", flush=True)
  return {name: _summary(v) for name, v in rates.items()}


def bench_training(data):
  """Seconds per epoch; the six configurations built first, then epochs timed in rotating order."""
  import keras  # noqa: PLC0415

  from tfmixup import training  # noqa: PLC0415
  from tfmixup.config import TrainConfig  # noqa: PLC0415

  runs = {}
  for jit in ("false", "true"):
    for method in ("erm", "mixup", "pair_sampling"):
      config = TrainConfig(method=method, jit_compile=jit, batch_size=_BATCH_SIZE.value)
      keras.utils.set_random_seed(0)
      model = training.compile_model(config, data.train.images.shape[1:], data.train.num_classes)
      stage = training.training_stage(config, data.train)
      model.fit(stage, epochs=1, verbose=0, shuffle=False)  # warm-up: tracing and XLA compilation
      runs[f"{method}/jit_{jit}"] = (model, stage)
  times = {key: [] for key in runs}
  keys = list(runs)
  for rep in range(_EPOCHS.value):
    for key in keys[rep % len(keys) :] + keys[: rep % len(keys)]:
      model, stage = runs[key]
      start = time.perf_counter()
      model.fit(stage, epochs=1, verbose=0, shuffle=False)
      times[key].append(time.perf_counter() - start)
    print(f"training repetition {rep + 1}/{_EPOCHS.value}", flush=True)
  return {key: _summary(v) for key, v in times.items()}


def _rss_mb(field):
  with open("/proc/self/status") as f:
    line = next(x for x in f if x.startswith(field))
  return int(line.split()[1]) / 1024


def memory_child(variant):
  """In a fresh process: peak resident memory of one pipeline epoch beyond TF's baseline.

  Baseline: VmHWM (peak RSS so far) after importing TensorFlow and iterating a
  trivial dataset, so TF's runtime and tf.data threads are counted there.
  Then the data is loaded, the pipeline built and one epoch iterated; the
  pipeline's memory is the new VmHWM minus the baseline.
  """
  import numpy as np  # noqa: PLC0415
  import pipelines  # noqa: PLC0415
  import tensorflow as tf  # noqa: PLC0415

  list(tf.data.Dataset.range(10).map(lambda x: tf.cast(x, tf.float32) * np.float32(2)).batch(2))
  baseline = _rss_mb("VmHWM")
  from tfmixup import datasets  # noqa: PLC0415

  train = datasets.load_arrays("mnist", "train", data_dir=_DATA_DIR.value)
  pipelines.iterate(pipelines.VARIANTS[variant](train, _BATCH_SIZE.value))
  print(json.dumps({"peak_mb": _rss_mb("VmHWM") - baseline, "uint8_mb": pipelines.uint8_bytes(train) / 2**20}))


def bench_memory():
  out = {}
  for variant in ("a_plain", "b_tfmixup_mixup", "c_tfmixup_pair_sampling"):
    proc = subprocess.run(
      [sys.executable, __file__, f"--memory_child={variant}", f"--data_dir={_DATA_DIR.value}"],
      capture_output=True,
      text=True,
      check=True,
    )
    out[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"memory {variant}: {out[variant]}", flush=True)
  return out


def machine():
  import keras  # noqa: PLC0415
  import tensorflow as tf  # noqa: PLC0415

  from tfmixup import training  # noqa: PLC0415

  versions = training.library_versions()
  cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
  return {
    "cpu": cpu,
    "cores": os.cpu_count(),
    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
    "gpu": bool(tf.config.list_physical_devices("GPU")),
    "python": platform.python_version(),
    "tensorflow": tf.__version__,
    "keras": keras.__version__,
    "tfmixup": versions["tfmixup"],
    "git_commit": versions["git_commit"],
  }


def markdown(results, command):
  lines = [
    "# Benchmarks",
    "",
    f"Produced by `{command}` (benchmarks/bench_main.py), full MNIST (60,000 training images), batch"
    f" {_BATCH_SIZE.value}. Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores,"
    f" {results['machine']['memory_gb']} GiB, GPU: {'yes' if results['machine']['gpu'] else 'none'};"
    f" TensorFlow {results['machine']['tensorflow']}, Keras {results['machine']['keras']},"
    f" tfmixup {results['machine'].get('tfmixup', '?')} (commit {results['machine'].get('git_commit', '?')}).",
    "",
  ]
  if "pipeline" in results:
    p = results["pipeline"]
    base, layer = p["a_plain"]["median"], p["d_keras_layers_MixUp"]["median"]
    lines += [
      f"## 1. Input pipeline throughput (one epoch, no model; median, min, max of {p['a_plain']['n']}, interleaved)",
      "",
      "| pipeline | images/s (median) | min | max | vs (a) plain | vs (d) keras.layers.MixUp |",
      "|---|---|---|---|---|---|",
    ]
    for name, s in p.items():
      lines.append(
        f"| {name} | {s['median']:,.0f} | {s['min']:,.0f} | {s['max']:,.0f} | {s['median'] / base:.2f}x"
        f" | {s['median'] / layer:.2f}x |"
      )
    lines.append("")
  if "training" in results:
    t = results["training"]
    lines += [
      f"## 2. Training, seconds per epoch (three-conv model; median, min, max of {_EPOCHS.value} epochs after"
      " a warm-up epoch; configurations interleaved epoch by epoch)",
      "",
      "| method | jit_compile | s/epoch (median) | min | max | vs no mixing, same jit |",
      "|---|---|---|---|---|---|",
    ]
    for key, s in t.items():
      method, jit = key.split("/")
      ref = t[f"erm/{jit}"]["median"]
      lines.append(
        f"| {method} | {jit.removeprefix('jit_')} | {s['median']:.2f} | {s['min']:.2f} | {s['max']:.2f}"
        f" | {s['median'] / ref:.3f}x |"
      )
    lines.append("")
  lines += targets(results)
  if "memory" in results:
    lines += [
      "## 3. Peak resident memory of the input pipeline (fresh process each; beyond TensorFlow's baseline)",
      "",
      "| pipeline | peak MB | uint8 dataset MB | ratio |",
      "|---|---|---|---|",
    ]
    for name, m in results["memory"].items():
      lines.append(f"| {name} | {m['peak_mb']:.0f} | {m['uint8_mb']:.0f} | {m['peak_mb'] / m['uint8_mb']:.2f}x |")
    lines.append("")
  return "\n".join(lines)


def targets(results):
  """The issue's targets, checked against the numbers above."""
  rows = []
  if "pipeline" in results:
    p = results["pipeline"]
    mix = p["b_tfmixup_mixup"]["median"]
    rows.append(("Mixup throughput >= 1.0x plain (a)", mix / p["a_plain"]["median"], 1.0, ">="))
    rows.append(
      ("Mixup throughput >= 1.3x keras.layers.MixUp (d)", mix / p["d_keras_layers_MixUp"]["median"], 1.3, ">=")
    )
  if "training" in results:
    t = results["training"]
    for jit in ("false", "true"):
      for method in ("mixup", "pair_sampling"):
        ratio = t[f"{method}/jit_{jit}"]["median"] / t[f"erm/jit_{jit}"]["median"]
        rows.append((f"{method} epoch <= 1.03x no mixing (jit_compile={jit})", ratio, 1.03, "<="))
    faster = "true" if t["erm/jit_true"]["median"] < t["erm/jit_false"]["median"] else "false"
    auto = "true" if results["machine"]["gpu"] else "false"
    rows.append(
      (f"jit_compile=auto picks the faster setting (auto={auto}, faster={faster})", float(auto == faster), 1.0, ">=")
    )
  if "memory" in results:
    for name in ("b_tfmixup_mixup", "c_tfmixup_pair_sampling"):
      m = results["memory"][name]
      rows.append((f"{name} pipeline memory <= 2x uint8 data", m["peak_mb"] / m["uint8_mb"], 2.0, "<="))
  lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
  for name, value, bound, op in rows:
    met = value >= bound if op == ">=" else value <= bound
    lines.append(f"| {name} | {value:.3f} | {'yes' if met else 'NO'} |")
  return [*lines, ""]


def main(argv):
  del argv
  if _MEMORY_CHILD.value:
    memory_child(_MEMORY_CHILD.value)
    return
  if _RENDER_ONLY.value:
    with open(_OUTPUT.value) as f:
      results = json.load(f)
    with open(_MARKDOWN.value, "w") as f:
      f.write(markdown(results, results["command"]))
    return
  from tfmixup import training  # noqa: PLC0415
  from tfmixup.config import TrainConfig  # noqa: PLC0415

  data = training.load_data(TrainConfig(data_dir=_DATA_DIR.value))
  results = {"machine": machine()}
  if "pipeline" in _PARTS.value:
    results["pipeline"] = bench_pipeline(data.train)
  if "training" in _PARTS.value:
    results["training"] = bench_training(data)
  if "memory" in _PARTS.value:
    results["memory"] = bench_memory()
  command = " ".join(["python", *sys.argv])
  results["command"] = command
  with open(_OUTPUT.value, "w") as f:
    json.dump(results, f, indent=1)
  with open(_MARKDOWN.value, "w") as f:
    f.write(markdown(results, command))
  print(markdown(results, command))


if __name__ == "__main__":
  app.run(main)
