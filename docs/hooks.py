"""MkDocs hooks: the command-line reference made from the flags, and the study's committed results served.

* `cli.md`'s `<!-- flags -->` marker becomes a table of every flag of `train_main.py` / `tfmixup-train`,
  made from `tfmixup.cli.define_flags` (so from `TrainConfig`'s fields: names, defaults, help) and
  the command's own flags, never copied by hand.
* The files of `results/` that the study pages show (tables and figures, committed by the commands that
  made them) are added to the site under `results/`, so the pages link and embed them as they are.
"""

import glob
import html
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "<!-- flags -->"
RESULTS = ("results/*.md", "results/*.png", "results/science/*.md", "results/science/*.png")


def _flags_table() -> str:
  sys.path.insert(0, ROOT)
  from absl import flags  # noqa: PLC0415

  from tfmixup import cli  # noqa: PLC0415 - TF-free: the flags are made without TensorFlow

  values = flags.FlagValues()
  cli.define_flags(values)
  cli.define_command_flags(values)
  rows = ["| flag | default | meaning |", "|---|---|---|"]
  for name in sorted(values):
    flag = values[name]
    default = flag.default_as_str.strip("'") if flag.default is not None else ""
    default = f'<code style="white-space: nowrap">{html.escape(default)}</code>' if default else ""
    text = html.escape(" ".join(flag.help.split())).replace("|", "&#124;")
    rows.append(f'| <code style="white-space: nowrap">--{name}</code> | {default} | {text} |')
  return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - MkDocs's hook signature
  if MARKER in markdown:
    return markdown.replace(MARKER, _flags_table())
  return markdown


def on_files(files, config):
  from mkdocs.structure.files import File  # noqa: PLC0415

  for pattern in RESULTS:
    for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
      uri = os.path.relpath(path, ROOT).replace(os.sep, "/")
      if files.get_file_from_path(uri) is None:
        files.append(File.generated(config, uri, abs_src_path=path, inclusion=_not_in_nav()))
  return files


def _not_in_nav():
  from mkdocs.structure.files import InclusionLevel  # noqa: PLC0415

  return InclusionLevel.NOT_IN_NAV
