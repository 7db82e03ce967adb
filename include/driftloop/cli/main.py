"""The ``driftloop`` entry point: registers every stage's subcommands, then runs one.

Each module here registers its subcommands with :func:`driftloop.cli.app.command` on import and
imports its stage lazily inside the handler, so that ``driftloop --help`` stays fast.
"""

from __future__ import annotations

import sys

from driftloop.cli import data, local, model, monitor, pipelines
from driftloop.cli.app import build_parser, run

__all__ = ["build_parser", "main"]

_REGISTERED = (data, local, model, monitor, pipelines)  # imported for their @command registrations


def main(argv: list[str] | None = None) -> int:
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
