"""The command line's flags, made from `TrainConfig`'s fields: one declaration of names, defaults, help and checks.

Every field of `tfmixup.config.TrainConfig` is a flag of the same name,
type and default, whose help is the field's description in the class
docstring (`config.field_help`); the checks are `TrainConfig`'s own (a bad
value exits with its one-line `ConfigError`). Three fields are written as
text on the command line (`TEXT_FIELDS`): `classes` as `--subset=689`,
`exclude_pairs` as `--exclude_pairs=69,68`, `method_args` as
`--method_args=scale_min=0.2,prob=0.5`. `--method` has the shortcuts
`--mixup` and `--pair_sampling`. A field added to `TrainConfig` is a flag
with nothing more to write. `run` is every command's entry point (help
exits 0).
"""

import dataclasses
import sys
from collections.abc import Callable

from absl import app, flags

from tfmixup import config as config_lib

# Fields written as text: field -> (flag, default text, parser, what the text looks like).
TEXT_FIELDS: dict[str, tuple[str, str, Callable[[str], object], str]] = {
  "classes": ("subset", "all", config_lib.parse_subset, "'all', or the digits to keep, e.g. 689 or 147"),
  "exclude_pairs": ("exclude_pairs", "", config_lib.parse_pairs, "e.g. 69 or 69,68"),
  "method_args": ("method_args", "", config_lib.parse_method_args, "knob=value pairs, e.g. scale_min=0.2,prob=0.5"),
}
# Fields with a fixed set of values.
CHOICES = {"jit_compile": config_lib.JIT_CHOICES, "feed": config_lib.FEED_CHOICES, "loop": config_lib.LOOP_CHOICES}
# Shortcuts for --method.
METHOD_SHORTCUTS = ("mixup", "pair_sampling")

_DEFINE = {
  str: flags.DEFINE_string,
  str | None: flags.DEFINE_string,
  float: flags.DEFINE_float,
  int: flags.DEFINE_integer,
  int | None: flags.DEFINE_integer,
  bool: flags.DEFINE_bool,
}


def define_command_flags(flag_values: flags.FlagValues = flags.FLAGS) -> tuple[flags.FlagHolder, flags.FlagHolder]:
  """The training command's own flags, not `TrainConfig` fields: `--runs` and `--output_dir` (their holders)."""
  runs = flags.DEFINE_integer("runs", 3, "Runs, with seeds seed, seed+1, ...", lower_bound=1, flag_values=flag_values)
  output_dir = flags.DEFINE_string(
    "output_dir", "output", "Where run JSONs and TensorBoard logs go.", flag_values=flag_values
  )
  return runs, output_dir


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> Callable[[], config_lib.TrainConfig]:
  """Defines a flag for every `TrainConfig` field (and the method shortcuts) in `flag_values`.

  Returns:
    `read()`: the `TrainConfig` of the parsed flags.

  Raises (from `read`):
    ConfigError: a value `TrainConfig` (or a text field's parser) rejects.
  """
  helps = config_lib.field_help()
  for field in dataclasses.fields(config_lib.TrainConfig):
    text = helps[field.name]
    if field.name in TEXT_FIELDS:
      flag, default, _, syntax = TEXT_FIELDS[field.name]
      flags.DEFINE_string(flag, default, f"{syntax}: {text}", flag_values=flag_values)
    elif field.name in CHOICES:
      flags.DEFINE_enum(field.name, field.default, CHOICES[field.name], text, flag_values=flag_values)
    elif field.name == "method":  # None: no --method given (the shortcuts may name one)
      flags.DEFINE_string("method", None, f"{text} Default: erm.", flag_values=flag_values)
    else:
      _DEFINE[field.type](field.name, field.default, text, flag_values=flag_values)
  for name in METHOD_SHORTCUTS:
    flags.DEFINE_bool(name, False, f"Short for --method={name}.", flag_values=flag_values)
  flags.register_multi_flags_validator(
    ["method", *METHOD_SHORTCUTS],
    lambda f: sum(bool(f[name]) for name in METHOD_SHORTCUTS) + (f["method"] is not None) <= 1,
    message="--method, --mixup and --pair_sampling exclude each other: pick one",
    flag_values=flag_values,
  )

  def read() -> config_lib.TrainConfig:
    values = {}
    for field in dataclasses.fields(config_lib.TrainConfig):
      if field.name in TEXT_FIELDS:
        flag, _, parse, _ = TEXT_FIELDS[field.name]
        values[field.name] = parse(flag_values[flag].value)
      else:
        values[field.name] = flag_values[field.name].value
    shortcut = [name for name in METHOD_SHORTCUTS if flag_values[name].value]
    values["method"] = shortcut[0] if shortcut else values["method"] or "erm"
    return config_lib.TrainConfig(**values)

  return read


# absl's help flags; each prints help and exits 1.
HELP_FLAGS = ("--help", "-help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def run(main: Callable[[list[str]], None]) -> None:
  """Runs `main` as an absl app (`app.run`), except that asking for help exits 0 (absl exits 1 after printing it).

  Every command's console-script entry point: `tfmixup-train`, `tfmixup-reproduce`, `tfmixup-science`.
  """
  try:
    app.run(main)
  except SystemExit as e:
    if e.code == 1 and any(arg in HELP_FLAGS for arg in sys.argv[1:]):
      sys.exit(0)
    raise
