"""The science command: `tfmixup-science` or `python science_main.py`.

  tfmixup-science --data_dir=../shared/mnist --output_dir=results/science --preset=session

Trains what the preset says (`tfmixup/study/regimes.py`; runs already in
`<output_dir>/regimes/*/runs` are not redone), then writes the report
(`science.md`, CSVs and figures) to `--output_dir`. Interrupted (Ctrl-C,
SIGTERM, a crash), the same command continues where it stopped. On n
processes or machines sharing `--output_dir`, run it with `--shard=0/n`,
..., `--shard=n-1/n`: each trains its share, helps finish each phase, and
the last to finish writes the report.
"""

import os
import sys
import time

from absl import flags

from tfmixup import cli
from tfmixup.study import commands
from tfmixup.study.run_shards import parse_shard

_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with the MNIST IDX files (None: TFDS).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "results/science", "Where runs, models and the report go.")
_PRESET = flags.DEFINE_enum("preset", "session", ["full", "session", "ci"], "How much to run (regimes.py).")
_SHARD = flags.DEFINE_string("shard", "0/1", "i/n: this process's share (n processes sharing --output_dir).")
_ROUND = flags.DEFINE_enum(
  "round",
  "sweep",
  ["sweep", "confirm", "confirm2", "study"],
  "sweep: the regime sweep, causal tests and swap of the preset; confirm: the preregistered confirmatory round "
  "(results/science/PLAN.md; --preset=ci runs a tiny version); confirm2: its round 2, the 1-epoch pair test "
  "(PLAN.md, amendment); study: round 3, the study's table in the most study-like configuration (exploratory). "
  "The report covers all four.",
)
_REPORT_ONLY = flags.DEFINE_bool("report_only", False, "Only write the report from saved runs.")


flags.register_validator("shard", commands.check_shard, "must be i/n with integers 0 <= i < n, e.g. 0/2")


def main(argv: list[str]) -> None:
  program = commands.start(argv)
  from tfmixup import checkpoints, training  # noqa: PLC0415
  from tfmixup.config import TrainConfig  # noqa: PLC0415
  from tfmixup.study import confirm, science, science_report, study_like  # noqa: PLC0415
  from tfmixup.study.regimes import PRESETS  # noqa: PLC0415

  preset = PRESETS[_PRESET.value]
  shard = parse_shard(_SHARD.value)
  base = TrainConfig(data_dir=_DATA_DIR.value)
  root = _OUTPUT_DIR.value
  start = time.perf_counter()
  command = " ".join(["python", os.path.basename(sys.argv[0]), *sys.argv[1:]])
  with commands.one_line_errors(program):
    training.prepare_output_dir(root)
    if _REPORT_ONLY.value:
      chosen = science.choices(preset, base, root)
    else:
      with checkpoints.stop_on_signals():  # SIGINT/SIGTERM: stop after this step, state saved
        if _ROUND.value == "sweep":
          chosen = science.run_science(preset, base, root, shard=shard)
        else:  # a later round: its runs, then the sweep's choices for the report
          run_round, plan = {
            "confirm": (confirm.run_confirm, confirm.round_for),
            "confirm2": (confirm.run_confirm2, confirm.round2_for),
            "study": (study_like.run_round3, study_like.round3_for),
          }[_ROUND.value]
          run_round(plan(preset.name), base, root, shard=shard)
          chosen = science.choices(preset, base, root)
    commands.write_report_once(
      root, lambda: science_report.write_all(preset, base, root, chosen, command=command), started=start, what="report"
    )


def run() -> None:
  """The console script's entry point. Asking for help exits 0 (absl exits 1 after printing it)."""
  cli.run(main)


if __name__ == "__main__":
  run()
