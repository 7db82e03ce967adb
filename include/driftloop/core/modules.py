"""Where a team's model code is found: ``training.model`` references, located without importing.

A reference is ``"package.module:function"``. The module is looked for in the folder of the
pipeline's config file first, then among the installed packages. Finding it here must not import
it: configs are loaded while Airflow parses DAG files, and a team's module usually imports LightGBM
or pandas at its top (tests/dags checks that parsing imports no heavy library). The full check,
which imports and calls the function, is :mod:`driftloop.model.contract`.
"""

from __future__ import annotations

import importlib.machinery
import re
import sys
from pathlib import Path

# package.module:function, each part a Python identifier.
MODEL_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def config_folder(source: str | None) -> Path | None:
    """The folder of the config file a pipeline was loaded from (None: not loaded from a file)."""
    if not source or source.startswith("<"):
        return None
    return Path(source).resolve().parent


def search_path(source: str | None) -> list[str]:
    """Where a reference's module is looked for: the config's folder, then ``sys.path``."""
    folder = config_folder(source)
    return [*([str(folder)] if folder else []), *sys.path]


def missing_module(ref: str, source: str | None) -> str | None:
    """Why ``ref``'s module cannot be found (None: it can), without importing any of it.

    Each dotted part is looked up with :class:`importlib.machinery.PathFinder` in the locations of
    its parent package, which reads directories only (``importlib.util.find_spec`` would import the
    parent packages).
    """
    module = ref.partition(":")[0]
    if module in sys.modules:
        return None
    locations: list[str] | None = search_path(source)
    parts = module.split(".")
    for i, part in enumerate(parts):
        spec = importlib.machinery.PathFinder.find_spec(part, locations)
        if spec is None:
            found = ".".join(parts[:i]) or "the config's folder or an installed package"
            return f"module {'.'.join(parts[: i + 1])!r} not found (in {found})"
        if i < len(parts) - 1:
            if not spec.submodule_search_locations:
                return f"{'.'.join(parts[: i + 1])!r} is a module, not a package"
            locations = list(spec.submodule_search_locations)
    return None


__all__ = ["MODEL_REF", "config_folder", "missing_module", "search_path"]
