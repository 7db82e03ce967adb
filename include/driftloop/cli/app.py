"""The ``driftloop`` command: every pipeline stage, runnable without Airflow.

The DAG tasks and these subcommands call the same library functions; a Kubernetes pod runs
``driftloop <stage> ...`` in the project's image.

Output contract: a stage command prints exactly one JSON document on stdout (its result); whatever
the libraries print while it runs (MLflow's run links, progress) goes to stderr. Errors are one line
on stderr, and the exit code says which kind (:mod:`driftloop.core.errors`, whose table the docs render);
``--verbose`` adds the traceback and the library's INFO log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from driftloop.core.config import load_config
from driftloop.core.errors import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNAVAILABLE,
    Terminated,
    exit_code_for,
    one_line,
)

# A handler gets the parsed arguments and the pipeline config (None for a command registered with
# ``needs_config=False``).
Handler = Callable[[argparse.Namespace, Any], int]


@dataclass(frozen=True)
class _Command:
    add_args: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    help: str
    human: bool
    needs_config: bool
    stoppable: bool


_COMMANDS: dict[str, _Command] = {}


def command(
    name: str, help: str, *, human: bool = False, needs_config: bool = True, stoppable: bool = False
):
    """Register a subcommand: the decorated function adds its arguments, ``handler`` runs it.

    ``human``: the command talks to a person on stdout (the local stack commands) instead of
    printing one JSON result; its stdout is left alone. ``needs_config=False``: the config is not
    loaded before the command runs (its handler gets None), so a broken ``DRIFTLOOP_CONFIG`` cannot
    stop it: ``stop`` must stop a running stack, ``pipelines`` must list the broken configs.
    ``stoppable``: a long command that runs DAGs in-process; it runs in a child process that SIGTERM
    stops like Ctrl-C (see :func:`_run_stoppable`).
    """

    def wrap(add_args: Callable[[argparse.ArgumentParser], None]):
        def with_handler(handler: Handler) -> Handler:
            _COMMANDS[name] = _Command(add_args, handler, help, human, needs_config, stoppable)
            return handler

        return with_handler

    return wrap


def iso_date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {s!r}") from None


_RESULT_FILE: list[str] = []  # set by --result-file (a pod's XCom file)
_STDOUT: list[Any] = []  # the real stdout while a command runs with sys.stdout sent to stderr


def emit(obj: Any) -> None:
    """Machine-readable result on stdout (one JSON document), and in --result-file if given."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    print(text, file=_STDOUT[-1] if _STDOUT else sys.stdout, flush=True)
    for path in _RESULT_FILE:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftloop", description=__doc__.splitlines()[0])
    config_help = "pipeline config YAML (default: $DRIFTLOOP_CONFIG or configs/churn.yaml)"
    parser.add_argument("--config", help=config_help)
    parser.add_argument(
        "--result-file", help="also write the JSON result here (e.g. /airflow/xcom/return.json)"
    )
    verbose_help = "log INFO lines and print the traceback of an error (on stderr)"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    verbose = argparse.ArgumentParser(add_help=False)  # also accepted after the command name
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help
    )
    verbose.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, cmd in _COMMANDS.items():
        cmd.add_args(sub.add_parser(name, help=cmd.help, description=cmd.help, parents=[verbose]))
    parser.epilog = "exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())
    return parser


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the registered command it names; returns the exit code."""
    from driftloop.core.logs import quiet_libraries

    quiet_libraries()  # e.g. no flood of library warnings on a pod's stderr
    args = build_parser().parse_args(argv)  # a usage error exits 2 here (argparse)
    _RESULT_FILE[:] = [args.result_file] if args.result_file else []
    # Library warnings (a quarantined labels file, a wait for the champion lock) on stderr; INFO too
    # with --verbose.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    cmd = _COMMANDS[args.command]
    if cmd.stoppable and not os.environ.get(_CHILD_ENV):
        return _run_stoppable(sys.argv[1:] if argv is None else argv, args.command)
    if os.environ.get(_CHILD_ENV):
        signal.signal(signal.SIGUSR1, _terminated)
    try:
        cfg = load_config(args.config) if cmd.needs_config else None
        if cmd.human:
            return cmd.handler(args, cfg)
        _STDOUT.append(sys.stdout)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                return cmd.handler(args, cfg)
        finally:
            _STDOUT.pop()
    except (Exception, KeyboardInterrupt) as err:
        return _report(args.command, err, verbose=args.verbose)


# Set in the child process of a stoppable command; its parent sends SIGUSR1 for a SIGTERM.
_CHILD_ENV = "DRIFTLOOP_STOPPABLE_CHILD"
STOP_GRACE_SECONDS = 30.0


def _terminated(signum: int, frame: object) -> None:
    raise Terminated("terminated (SIGTERM): stopped")


def _run_stoppable(argv: list[str], name: str) -> int:
    """Run ``driftloop <argv>`` in a child process and stop it on SIGTERM or Ctrl-C; its exit code.

    The DAGs run in-process with ``dag.test()``, and Airflow's task runner takes SIGTERM over for
    each task (it calls the operator's ``on_kill`` and carries on): in the same process, SIGTERM
    would be ignored. This parent keeps its own handlers: the first SIGTERM becomes SIGUSR1 in the
    child (which unwinds like Ctrl-C and exits 143 with a line), the first Ctrl-C a SIGINT; the
    child's group is killed if it is still there ``STOP_GRACE_SECONDS`` later or on a second signal.
    """
    asked: list[tuple[int, float]] = []
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: object) -> None:
        asked.append((signum, time.monotonic()))
        if len(asked) == 1 and children:
            sent = signal.SIGUSR1 if signum == signal.SIGTERM else signal.SIGINT
            with contextlib.suppress(ProcessLookupError):
                os.kill(children[0].pid, sent)

    # Installed first: a SIGTERM from now on is never lost, nor the child orphaned by it.
    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "driftloop.cli.main", *argv],
            env={**os.environ, _CHILD_ENV: "1"},
            start_new_session=True,  # a terminal's Ctrl-C reaches the child once, through here
        )
        children.append(child)
        if asked:  # asked to stop while the child was being started
            os.kill(child.pid, signal.SIGUSR1 if asked[0][0] == signal.SIGTERM else signal.SIGINT)
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = child.wait(timeout=0.5)
                if code >= 0 or not asked:
                    return code
                # Ended by the signal itself (it came before the child's handler was set).
                return _stopped(name, asked[0][0], "stopped")
            if asked and (len(asked) > 1 or time.monotonic() - asked[0][1] > STOP_GRACE_SECONDS):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                return _stopped(name, asked[0][0], "stopped (killed)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(name: str, signum: int, how: str) -> int:
    """Say that the command was stopped; its exit code (143 for SIGTERM, 130 for Ctrl-C)."""
    print(f"driftloop {name}: {how}", file=sys.stderr)
    return EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED


def _report(command_name: str, err: BaseException, *, verbose: bool) -> int:
    """One line on stderr (the traceback too with --verbose); returns the exit code."""
    code = exit_code_for(err)
    if verbose:
        traceback.print_exception(err, file=sys.stderr)
    kind = {
        EXIT_UNAVAILABLE: "unavailable: ",
        EXIT_INTERNAL: f"internal error: {type(err).__name__}: ",
    }.get(code, "")
    hint = (
        " (run with --verbose for the traceback)" if code == EXIT_INTERNAL and not verbose else ""
    )
    print(f"driftloop {command_name}: {kind}{one_line(err)}{hint}", file=sys.stderr)
    return code
