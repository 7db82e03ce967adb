"""Reference pages generated from the code at build time (a MkDocs hook; see mkdocs.yml).

- ``reference/config.md``: every key of the pipeline config, from the pydantic models of
  :mod:`driftloop.core.config` (type, constraints, default, ``description=``);
- ``reference/cli.md``: every ``driftloop`` subcommand, from its argparse parser;
- ``reference/exit-codes.md``: the exit codes, from :data:`driftloop.core.errors.EXIT_CODES`, with
  the library errors that carry each;
- the benchmark table of ``benchmarks.md`` (the ``<!-- bench-results -->`` marker), from
  ``bench/results/*.json`` when a ``make bench`` left any (the folder is git-ignored).

Nothing generated is committed: the pages exist only in the build. Each function returns Markdown,
so tests can check a page without building the site.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import json
import pkgutil
import re
import types
import typing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

REPO = Path(__file__).resolve().parent.parent
BENCH_RESULTS = REPO / "bench" / "results"
BENCH_MARKER = "<!-- bench-results -->"
# Packages whose errors are listed under their exit code (driftloop.airflow and driftloop.demo are
# left out: importing them imports Airflow, and they raise the library's errors, not their own).
ERROR_PACKAGES = (
    "core",
    "data",
    "tracking",
    "drift",
    "model",
    "monitor",
    "local",
    "cli",
)


_ROLE = re.compile(r":(?:class|mod|func|data|meth|attr):`~?([^`]+)`")


def _md(doc: str) -> str:
    """A docstring as Markdown: Sphinx roles become code spans."""
    return _ROLE.sub(r"`\1`", doc)


_CODE_SPAN = re.compile(r"(`[^`]*`)")


def _text(text: Any) -> str:
    """Plain text (a help string, a description) as Markdown: ``<stage>`` is shown, not taken
    for an HTML tag; code spans are left as they are."""
    parts = _CODE_SPAN.split(str(text))
    return "".join(
        p
        if p.startswith("`")
        else p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for p in parts
    )


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return _text(" ".join(str(text).split())).replace("|", "\\|")


# --------------------------------------------------------------------------------------------
# Config keys


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (types.UnionType, typing.Union):
        named = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin in (list, tuple, set):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}" if args else "mapping"
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in ann)
    if ann is Any:
        return "any"
    if ann is timedelta:
        return "duration (`7d`, `12h`, `30m`, seconds, or ISO 8601)"
    if ann is date:
        return "date (YYYY-MM-DD)"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(
        ann, getattr(ann, "__name__", str(ann))
    )


def _constraints(field: FieldInfo) -> list[str]:
    out = []
    symbols = {
        annotated_types.Ge: (">=", "ge"),
        annotated_types.Gt: (">", "gt"),
        annotated_types.Le: ("<=", "le"),
        annotated_types.Lt: ("<", "lt"),
        annotated_types.MinLen: ("at least", "min_length"),
    }
    for meta in field.metadata:
        for kind, (symbol, attr) in symbols.items():
            if isinstance(meta, kind):
                out.append(f"{symbol} {getattr(meta, attr)}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            out.append(f"matches `{pattern}`")
    return out


def _value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, timedelta):
        from driftloop.core.config import format_duration

        return f"`{format_duration(value)}`"
    if value is None:
        return "*none*"
    if isinstance(value, date):
        return f"`{value.isoformat()}`"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, dict | list) and not value:
        return "*empty*"
    return f"`{json.dumps(value, default=str)}`"


def _task_defaults() -> dict[str, str]:
    """Gate keys whose default depends on ``dataset.task`` (PipelineConfig fills them in)."""
    from driftloop.core.metrics import TABLES

    def per_task(get: Any) -> str:
        return "; ".join(f"{task}: {_value(get(table))}" for task, table in TABLES.items())

    return {
        "gate.primary_metric": per_task(lambda t: t.primary),
        "gate.guards": per_task(lambda t: dict(t.default_guards)),
        "gate.floor": per_task(lambda t: t.default_floor),
    }


def _default(key: str, field: FieldInfo, by_task: dict[str, str]) -> str:
    if key in by_task:
        return f"by task: {by_task[key]}"
    if field.default_factory is not None:
        return _value(field.default_factory())  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return "**required**"
    return _value(field.default)


def _model_of(ann: Any) -> type[BaseModel] | None:
    """The model a field holds (``Section`` or ``list[Section]``), if it holds one."""
    for candidate in (ann, *typing.get_args(ann)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _section(prefix: str, model: type[BaseModel], by_task: dict[str, str]) -> list[str]:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        sub = _model_of(field.annotation)
        if sub is not None:
            nested.append((key, field, sub))
            continue
        kind = ", ".join([_type_name(field.annotation), *_constraints(field)])
        rows.append(
            f"| `{key}` | {_cell(kind)} | {_cell(_default(key, field, by_task))} "
            f"| {_cell(field.description or '')} |"
        )
    lines = []
    if rows:
        lines += ["| key | type | default | description |", "| --- | --- | --- | --- |", *rows, ""]
    for key, field, sub in nested:
        is_list = typing.get_origin(field.annotation) is list
        title = f"{key}[]" if is_list else key
        lines += [f"## `{title}`", ""]
        doc = inspect.getdoc(sub)
        intro = field.description or (doc if doc and doc != inspect.getdoc(BaseModel) else "")
        if is_list:
            intro = f"A list; each item has the keys below. {intro}".strip()
        if field.is_required():
            intro = f"{intro} Required.".strip()
        if intro:
            lines += [_md(intro), ""]
        lines += _section(f"{key}[]." if is_list else f"{key}.", sub, by_task)
    return lines


def config_reference() -> str:
    """Every key of the pipeline config, section by section."""
    from driftloop.core import config

    head = inspect.getdoc(config) or ""
    lines = [
        "# Configuration keys",
        "",
        "Generated from the pydantic models of `include/driftloop/core/config.py` when the site "
        "is built. A config file is one YAML mapping with the sections below; unknown keys are "
        "refused, naming the key.",
        "",
        _md(head.split("\n\n", 1)[1]) if "\n\n" in head else "",
        "",
        "## Top level",
        "",
    ]
    lines += _section("", config.PipelineConfig, _task_defaults())
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        names = (
            ", ".join(f"`{s}`" for s in action.option_strings)
            or f"`{action.metavar or action.dest}`"
        )
        if action.option_strings and action.nargs != 0:
            names += f" `{action.metavar or action.dest.upper()}`"
        text = action.help or ""
        if "%(" in text:
            text = text % {**vars(action), "prog": parser.prog}
        extra = []
        if action.choices:
            extra.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
        if action.required and action.option_strings:
            extra.append("required")
        default = action.default
        if default not in (None, False, argparse.SUPPRESS) and action.nargs != 0:
            extra.append(f"default {_value(default)}")
        rows.append(f"| {names} | {_cell('; '.join([text, *extra]).strip('; '))} |")
    if not rows:
        return []
    return ["| argument | meaning |", "| --- | --- |", *rows, ""]


def cli_reference() -> str:
    """Every ``driftloop`` subcommand: its purpose, usage and arguments, from the parser."""
    from driftloop.cli import app
    from driftloop.cli.main import build_parser

    parser = build_parser()
    doc = (inspect.getdoc(app) or "").split("\n\n", 1)
    lines = [
        "# Command line",
        "",
        "Generated from the `driftloop` argparse parser (`include/driftloop/cli`) when the site is "
        "built. Exit codes: [Exit codes](exit-codes.md).",
        "",
        *(_md(d) for d in doc[1:]),
        "",
        "## Options of every command",
        "",
        "Given before the command name (`--config` and `--verbose` also after it).",
        "",
        *_argument_rows(parser),
    ]
    for name, sub in _subcommands(parser).items():
        usage = " ".join(sub.format_usage().removeprefix("usage: ").split())
        lines += [f"## `{name}`", "", _text(sub.description or ""), "", "```text", usage, "```", ""]
        lines += _argument_rows(sub)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Exit codes


def _library_errors() -> dict[int, list[str]]:
    """Each exit code with the library's error classes that carry it, by qualified name."""
    import driftloop
    from driftloop.core.errors import DriftloopError

    for package in ERROR_PACKAGES:
        module = importlib.import_module(f"driftloop.{package}")
        for info in pkgutil.walk_packages(module.__path__, f"{module.__name__}."):
            importlib.import_module(info.name)
    by_code: dict[int, list[str]] = {}
    seen: set[type] = set()
    stack = [DriftloopError]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(driftloop.__name__):
            name = f"{cls.__module__.removeprefix('driftloop.')}.{cls.__qualname__}"
            by_code.setdefault(cls.exit_code, []).append(name)
    return {code: sorted(names) for code, names in by_code.items()}


def exit_codes_reference() -> str:
    """The exit code table, from ``EXIT_CODES``; each code links to its runbook."""
    from driftloop.core import errors

    constants = {
        value: name
        for name, value in vars(errors).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    raised_by = _library_errors()
    lines = [
        "# Exit codes",
        "",
        "Generated from `EXIT_CODES` in `include/driftloop/core/errors.py` when the site is built. "
        "Every `driftloop` command exits with one of these; a stage's error is one line on "
        "stderr (`--verbose` adds the traceback). What to do about each: "
        "[Runbooks](../operations/runbooks.md).",
        "",
        _md((inspect.getdoc(errors) or "").split("\n\n")[1]),
        "",
        "| code | constant | meaning | retried by Airflow? | raised as | runbook |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for code, meaning in errors.EXIT_CODES.items():
        classes = ", ".join(f"`{c}`" for c in raised_by.get(code, []))
        runbook = f"[exit {code}](../operations/runbooks.md#exit-{code})" if code else ""
        retried = "yes" if code in errors.RETRIED else ("no" if code else "")
        lines.append(
            f"| {code} | `{constants.get(code, '')}` | {_cell(meaning)} | {retried} | {classes} "
            f"| {runbook} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Benchmarks

_NOT_FIGURES = {"benchmark", "meets_goal", "versions", "machine"}


def _figures(prefix: str, obj: dict[str, Any]) -> list[tuple[str, Any, str, str]]:
    out = []
    for key, value in sorted(obj.items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "meets_goal" in value:
            mark = "yes" if value["meets_goal"] else "**no**"
            out.append((name, value.get("value"), value.get("goal", ""), mark))
        elif isinstance(value, dict):
            out += _figures(f"{name}.", value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append((name, value, "", ""))
    return out


def bench_table(results: Path = BENCH_RESULTS) -> str:
    """A table per benchmark in ``results/*.json`` (with the machine it ran on), or a line saying
    there are none yet."""
    files = sorted(results.glob("*.json")) if results.is_dir() else []
    if not files:
        return (
            "No results yet: `make bench` writes them to `bench/results/` (not committed), and "
            "the next build of this site shows them here."
        )
    lines: list[str] = []
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            lines += [f"### `{path.stem}`", "", f"`{path.name}` is not readable JSON.", ""]
            continue
        name = doc.get("benchmark", path.stem)
        m = doc.get("machine", {})
        load = " / ".join(str(x) for x in m.get("load_average", []))
        lines += [
            f"### `{name}`",
            "",
            f"`bench/{path.stem}.py` on {m.get('cores', '?')} cores, {m.get('ram_gb', '?')} GB, "
            f"Python {m.get('python', '?')}, load average {load or '?'}.",
            "",
            "| figure | value | goal | met |",
            "| --- | --- | --- | --- |",
        ]
        figures = {k: v for k, v in doc.items() if k not in _NOT_FIGURES}
        for figure, value, goal, met in _figures("", figures):
            shown = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else value
            lines.append(f"| `{figure}` | {shown} | {_cell(goal)} | {met} |")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# MkDocs hook

PAGES = {
    "reference/config.md": config_reference,
    "reference/cli.md": cli_reference,
    "reference/exit-codes.md": exit_codes_reference,
}


def on_files(files: Any, config: Any) -> Any:
    """Add the generated reference pages to the build (they exist in memory only)."""
    from mkdocs.structure.files import File

    for path, render in PAGES.items():
        files.append(File.generated(config, path, content=render()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Put the benchmark table where ``benchmarks.md`` has its marker."""
    if BENCH_MARKER in markdown:
        return markdown.replace(BENCH_MARKER, bench_table())
    return markdown
