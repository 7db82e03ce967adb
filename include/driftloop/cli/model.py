"""Model subcommands: ``driftloop train | promote | rollback | score``.

The same library calls as the ``train``, ``promote`` and ``score`` DAGs, for a shell or a Kubernetes
pod; each prints one JSON result (also written to ``--result-file``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from driftloop.cli.app import command, emit, iso_date
from driftloop.core.config import Algorithm, PipelineConfig
from driftloop.core.errors import EXIT_USAGE

ALGORITHMS = tuple(a.value for a in Algorithm)


def _opt(convert: Any) -> Any:
    """An argument type where an empty value means "not given" (templated pod arguments are never
    absent, only empty, e.g. ``--since ""`` when the DAG param is unset)."""

    def parse(raw: str) -> Any:
        return None if raw.strip() == "" else convert(raw)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def _algorithm(raw: str) -> str:
    if raw not in ALGORITHMS:
        raise argparse.ArgumentTypeError(
            f"invalid choice {raw!r} (choose from {', '.join(ALGORITHMS)})"
        )
    return raw


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {raw!r}")
    return value


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"{getpass.getuser()} (cli)"


def _hyper(pairs: list[str]) -> dict[str, Any]:
    """``--param k=v`` pairs; values parsed as JSON when they can be (numbers, booleans, null)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


# -- train ----------------------------------------------------------------------------------------
def _train_args(p: argparse.ArgumentParser) -> None:
    # Optional values accept "" as "not given", so a DAG can pass its (possibly empty) params as
    # templated pod arguments.
    p.add_argument(
        "--date",
        type=_opt(iso_date),
        help="last day of the training window (default or empty: the newest day with labels)",
    )
    p.add_argument("--window-days", type=_opt(int), help="default: training.window_days")
    p.add_argument(
        "--since", type=_opt(iso_date), help="first day of the window (wins over --window-days)"
    )
    p.add_argument("--algorithm", type=_opt(_algorithm), help=" | ".join(ALGORITHMS))
    p.add_argument(
        "--hyperparameters",
        type=_opt(_json_object),
        metavar="JSON",
        help="estimator overrides as a JSON object, e.g. '{\"max_iter\": 100}'; null values are ignored",
    )
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--max-depth", type=_opt(int), help="tree depth (wins over the JSON object)")
    p.add_argument("--learning-rate", type=_opt(float), help="gradient_boosting shrinkage (idem)")
    p.add_argument("--reason", type=_opt(str), default="manual (cli)")
    p.add_argument("--report-uri", type=_opt(str), help="drift report that motivated the training")
    p.add_argument("--min-improvement", type=_opt(float), help="default: gate.min_improvement")
    promo = p.add_mutually_exclusive_group()
    promo.add_argument(
        "--auto-promote",
        dest="auto_promote",
        action="store_true",
        default=None,
        help="promote when the gate passes (default: gate.auto_promote)",
    )
    promo.add_argument("--no-promote", dest="auto_promote", action="store_false")
    promo.add_argument(
        "--train-only",
        action="store_true",
        help="stop after registering the challenger and print only the training result (the "
        "train DAG's train_model step: the DAG gates and promotes in its own tasks)",
    )
    p.add_argument("--actor", help="who promotes (default: the OS user)")
    af = p.add_argument_group("Airflow task (recorded as tags on the MLflow run)")
    af.add_argument("--dag-id", type=_opt(str))
    af.add_argument("--run-id", type=_opt(str))
    af.add_argument("--task-id", type=_opt(str))


@command("train", "train a challenger, gate it against the champion, promote if it wins")(
    _train_args
)
def _train(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.model import workflow

    # InsufficientData (exit 4) and InvalidParameter (exit 2) are reported by driftloop.cli.main.main.
    request = workflow.TrainRequest(
        date=args.date,
        since=args.since,
        window_days=args.window_days,
        algorithm=args.algorithm,
        hyperparameters=args.hyperparameters,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        reason=args.reason or "manual (cli)",
        report_uri=args.report_uri,
        airflow_context={"dag_id": args.dag_id, "run_id": args.run_id, "task_id": args.task_id},
    )
    extra = _hyper(args.param)
    if args.train_only:
        # Exactly what the train DAG's train_model task returns.
        emit(workflow.train_step(cfg, request, extra_hyperparameters=extra).to_dict())
        return 0
    emit(
        workflow.train_gate_promote(
            cfg,
            request,
            actor=_actor(args),
            min_improvement=args.min_improvement,
            auto_promote=args.auto_promote,
            extra_hyperparameters=extra,
        )
    )
    return 0


# -- promote / rollback ---------------------------------------------------------------------------
def _promote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", required=True, help="registered model version")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", help="who decides (default: the OS user)")


@command("promote", "make a registered version the champion (no gate: a human override)")(
    _promote_args
)
def _promote(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.model import registry

    emit(registry.promote(cfg, args.version, args.reason, _actor(args)))
    return 0


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", help="who decides (default: the OS user)")


@command("rollback", "give the champion alias back to the previous champion")(_rollback_args)
def _rollback(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.model import registry

    emit(registry.rollback(cfg, args.reason, _actor(args)))
    return 0


# -- score ----------------------------------------------------------------------------------------
def _score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=iso_date, help="partition to score (or --backlog)")
    p.add_argument(
        "--backlog",
        action="store_true",
        help="score every validated day without predictions (those ingested before the first "
        "champion), once each; with --date: that day is such a day, record it as backlog",
    )
    p.add_argument(
        "--model-version", type=_opt(str), help="registered version (default: the champion)"
    )
    p.add_argument(
        "--chunk-rows",
        type=_opt(int),
        help="rows per scoring batch (default: from a memory budget)",
    )
    p.add_argument(
        "--shadow-version",
        type=_opt(str),
        help="with --date: also score the day with this challenger in shadow, into "
        "predictions/shadow/ (its failure is recorded, never fails the champion's scoring)",
    )


@command("score", "score one validated partition (or the backlog) into predictions/")(_score_args)
def _score(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.model.scoring import NoChampion, score_backlog
    from driftloop.monitor.shadow import score_with_shadow

    if args.date is None and not args.backlog:
        print("driftloop score: give --date DAY or --backlog", file=sys.stderr)
        return EXIT_USAGE
    if args.shadow_version and args.date is None:
        print("driftloop score: --shadow-version scores one day: give --date DAY", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.date is None:
            results = score_backlog(cfg, args.model_version, chunk_rows=args.chunk_rows)
            emit({"backlog": [r.to_dict() for r in results]})
            return 0
        out = score_with_shadow(
            cfg,
            args.date,
            args.model_version,
            args.shadow_version,
            backlog=args.backlog,
            chunk_rows=args.chunk_rows,
        )
    except NoChampion as err:
        day = args.date.isoformat() if args.date else None
        emit({"scored": False, "partition": day, "reason": str(err)})
        print(f"driftloop score: {err}", file=sys.stderr)
        return err.exit_code
    emit(out)  # exactly what the score DAG's score_partition task returns
    return 0
