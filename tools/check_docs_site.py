"""Checks a built docs site: every public name of the documented modules has its entry in the API reference.

  mkdocs build --strict -d SITE && python tools/check_docs_site.py SITE

A public name is one in the module's `__all__` (read from the source, without importing TensorFlow); for
`tfmixup.datasets` also each registered method's stage function, which the package finds by name. Exits
non-zero, listing what is missing.
"""

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = {
  "tfmixup.datasets": "api/datasets/index.html",
  "tfmixup.methods": "api/methods/index.html",
  "tfmixup.model": "api/model/index.html",
  "tfmixup.training": "api/training/index.html",
  "tfmixup.epoch_loop": "api/epoch_loop/index.html",
}


def public_names(module: str) -> list[str]:
  """`__all__` of the module's source, or its top-level public functions and classes without one."""
  path = os.path.join(ROOT, *module.split("."))
  path = os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read())
  for node in tree.body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
      return list(ast.literal_eval(node.value))
  defined = (ast.FunctionDef, ast.ClassDef)
  return [n.name for n in tree.body if isinstance(n, defined) and not n.name.startswith("_")]


def method_functions() -> list[str]:
  """The ids of the registered methods' stage functions (`tfmixup.methods.<module>.<function>`)."""
  sys.path.insert(0, ROOT)
  from tfmixup import methods  # noqa: PLC0415 - TF-free

  functions = (methods.get(name).function for name in methods.names())
  return sorted({f"{f.__module__}.{f.__name__}" for f in functions if f is not None})


def main(site: str) -> int:
  missing = []
  for module, page in PAGES.items():
    with open(os.path.join(site, page), encoding="utf-8") as f:
      html = f.read()
    ids = [f"{module}.{name}" for name in public_names(module)]
    if module == "tfmixup.datasets":
      # Found as tfmixup.datasets.<name>: documented under the package's name or its own module's.
      ids += [i for i in method_functions() if f'id="tfmixup.datasets.{i.rsplit(".", 1)[1]}"' not in html]
    missing += [f"{page}: {i}" for i in ids if f'id="{i}"' not in html]
  for line in missing:
    print(f"not in the API reference: {line}")
  print(f"check_docs_site: {len(missing)} missing")
  return 1 if missing else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1]))
