"""Model subcommands: ``driftloop train | promote | rollback | score``.

The same library calls as the ``train``, ``promote`` and ``score`` DAGs, for a shell or a Kubernetes
pod; each prints one JSON result (also written to ``--result-file``).
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from driftloop.cli import _date, command, emit
from driftloop.config import PipelineConfig


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
    p.add_argument("--date", type=_date, required=True, help="last day of the training window")
    p.add_argument("--window-days", type=int, help="default: training.window_days")
    p.add_argument("--since", type=_date, help="first day of the window (wins over --window-days)")
    p.add_argument(
        "--algorithm", choices=["logistic_regression", "gradient_boosting", "random_forest"]
    )
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--reason", default="manual (cli)")
    p.add_argument("--report-uri", help="drift report that motivated the training")
    p.add_argument("--min-improvement", type=float, help="default: gate.min_improvement")
    promo = p.add_mutually_exclusive_group()
    promo.add_argument(
        "--auto-promote",
        dest="auto_promote",
        action="store_true",
        default=None,
        help="promote when the gate passes (default: gate.auto_promote)",
    )
    promo.add_argument("--no-promote", dest="auto_promote", action="store_false")
    p.add_argument("--actor", help="who promotes (default: the OS user)")


@command("train", "train a challenger, gate it against the champion, promote if it wins")(
    _train_args
)
def _train(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop import registry
    from driftloop.train import train_model

    result = train_model(
        cfg,
        args.date,
        window_days=args.window_days,
        since=args.since,
        algorithm=args.algorithm,
        hyperparameters=_hyper(args.param),
        reason=args.reason,
        report_uri=args.report_uri,
    )
    decision = registry.evaluate_challenger(cfg, result.model_version, args.min_improvement)
    auto = cfg.gate.auto_promote if args.auto_promote is None else args.auto_promote
    promoted = None
    if decision.promote and auto:
        promoted = registry.promote(
            cfg,
            result.model_version,
            f"{args.reason}; gate: {decision.reason}",
            _actor(args),
            decision,
        )
    emit({"train": result.to_dict(), "gate": decision.to_dict(), "promotion": promoted})
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
    from driftloop import registry

    emit(registry.promote(cfg, args.version, args.reason, _actor(args)))
    return 0


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", help="who decides (default: the OS user)")


@command("rollback", "give the champion alias back to the previous champion")(_rollback_args)
def _rollback(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop import registry

    emit(registry.rollback(cfg, args.reason, _actor(args)))
    return 0


# -- score ----------------------------------------------------------------------------------------
def _score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=_date, required=True, help="partition to score")
    p.add_argument("--model-version", help="registered version (default: the champion)")
    p.add_argument("--chunk-rows", type=int, default=50_000, help="rows per scoring batch")


@command("score", "score one validated partition into predictions/")(_score_args)
def _score(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.scoring import NoChampion, score_partition

    try:
        result = score_partition(cfg, args.date, args.model_version, chunk_rows=args.chunk_rows)
    except NoChampion as err:
        emit({"scored": False, "partition": args.date.isoformat(), "reason": str(err)})
        return 3
    emit({"scored": True, **result.to_dict()})
    return 0
