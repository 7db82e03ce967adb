"""CLI subcommands, one module per stage; each registers itself with ``driftloop.cli.command``.

Modules here import their stage lazily inside handlers so that ``driftloop --help`` stays fast.
"""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
