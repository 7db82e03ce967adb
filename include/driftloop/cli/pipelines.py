"""``driftloop pipelines``: the pipelines of a configs folder, their DAG ids, and the broken configs.

What the DAG factory will generate, checked without Airflow (e.g. in CI before a deployment).
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

    loaded = load_pipelines(args.configs)
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
                }
                for c in loaded.configs
            ],
            "errors": loaded.errors,
        }
    )
    return EXIT_USAGE if loaded.errors else 0
