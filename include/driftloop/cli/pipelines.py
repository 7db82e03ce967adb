"""``driftloop pipelines``: the pipelines of a configs folder, their DAG ids, and the broken configs.

What the DAG factory will generate, checked without Airflow (e.g. in CI before a deployment). A
pipeline with its own model (``training.model``) also gets the contract's full check here: the
function is imported and called, and must return an estimator fitting the task (the DAG factory
only checks that its module can be found, without importing it).
"""

from __future__ import annotations

import argparse

from driftloop.cli.app import command, emit
from driftloop.core.errors import EXIT_USAGE


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--configs",
        help="configs folder or file (default: $DRIFTLOOP_CONFIGS, $DRIFTLOOP_CONFIG, configs/)",
    )


@command(
    "pipelines",
    "list the pipelines of the configs folder and their DAGs; exit 2 on errors",
    needs_config=False,  # a broken config is listed among the errors, not fatal
)(_args)
def _pipelines(args: argparse.Namespace, cfg: None) -> int:
    from driftloop.core.pipelines import STAGES, dag_id, load_pipelines
    from driftloop.model.contract import check_contract

    loaded = load_pipelines(args.configs)
    errors = dict(loaded.errors)
    for c in loaded.configs:
        problem = check_contract(c)
        if problem:
            errors[str(c.source)] = problem
    emit(
        {
            "pipelines": [
                {
                    "name": c.name,
                    "config": c.source,
                    "dags": [dag_id(c.name, s) for s in STAGES],
                    "storage_root": c.storage.root,
                    "experiment": c.experiment_name,
                    "registered_model": c.model_name,
                    "start_date": c.schedule.start_date.isoformat(),
                    "model": c.training.model or c.training.algorithm.value,
                }
                for c in loaded.configs
            ],
            "errors": errors,
        }
    )
    return EXIT_USAGE if errors else 0
