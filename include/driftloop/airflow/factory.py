"""The DAG factory: every pipeline config gets the same DAGs, with its own ids, assets and schedule.

Each file in dags/ is one stage's template and loops over :func:`pipelines`::

    for p in pipelines("ingest"):
        @dag(dag_id=p.dag_id, start_date=p.start_date, ...)
        def ingest(): ...
        ingest()

A broken config (invalid key, clashing storage root...) must not hide the other pipelines' DAGs.
Airflow 3 keys import errors by DAG file, and when it records an import error for a file it marks
*every* DAG of that file stale (``airflow/dag_processing/collection.py``, ``_update_import_errors``),
even those that parsed. So the stage files skip broken configs, and ``dags/pipeline_configs.py``, a
file with no DAGs, raises :func:`check_configs`' error: one import error naming each broken config
file and its key, and nothing else hidden.

At run time a task finds its pipeline from its DAG id (:func:`pipeline_config`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import pendulum

from driftloop.airflow.assets import PipelineAssets, pipeline_assets
from driftloop.core.config import ConfigError, PipelineConfig
from driftloop.core.pipelines import STAGES, Pipelines, config_files, dag_id, load_pipelines
from driftloop.core.pipelines import split_dag_id as _split

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["PipelineDag", "check_configs", "pipeline_config", "pipeline_of", "pipelines"]


@dataclass(frozen=True)
class PipelineDag:
    """What one stage's DAG of one pipeline is built from."""

    cfg: PipelineConfig
    stage: str

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def dag_id(self) -> str:
        return dag_id(self.cfg.name, self.stage)

    def dag_id_of(self, stage: str) -> str:
        """The id of another stage's DAG of the same pipeline (e.g. the ``train`` it triggers)."""
        return dag_id(self.cfg.name, stage)

    @cached_property
    def assets(self) -> PipelineAssets:
        return pipeline_assets(self.cfg.name)

    @property
    def start_date(self) -> pendulum.DateTime:
        d = self.cfg.schedule.start_date
        return pendulum.datetime(d.year, d.month, d.day, tz="UTC")

    @property
    def interval(self) -> str:
        return self.cfg.schedule.interval

    @property
    def catchup(self) -> bool:
        return self.cfg.schedule.catchup

    @property
    def on_arrival_events(self) -> bool:
        """Ingest starts on ``landed`` asset events (``arrival.mode: queue``), not on the schedule."""
        return self.cfg.arrival.mode == "queue"

    def tags(self, *tags: str) -> list[str]:
        """The DAG's tags: the project's, the pipeline's name (to filter the UI by), ``tags``."""
        return ["driftloop", f"pipeline:{self.cfg.name}", *tags]

    def doc(self, doc_md: str) -> str:
        """``doc_md`` of a stage, headed by the pipeline and its config file."""
        return f"**Pipeline `{self.cfg.name}`** (config `{self.cfg.source}`)\n{doc_md}"


def _cache_key() -> tuple[Any, ...]:
    files = tuple((str(p), p.stat().st_mtime_ns if p.exists() else 0) for p in config_files())
    # ${VAR} and DRIFTLOOP__* overrides come from the environment: a change reloads.
    return files, tuple(sorted(os.environ.items()))


@lru_cache(maxsize=4)
def _load(key: tuple[Any, ...]) -> Pipelines:
    return load_pipelines()


def _loaded() -> Pipelines:
    """The pipelines, read once per process while the files and the environment stay the same."""
    return _load(_cache_key())


def pipelines(stage: str) -> list[PipelineDag]:
    """One :class:`PipelineDag` of ``stage`` per valid pipeline config, in file order.

    Broken configs are left out here; :func:`check_configs` reports them.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    return [PipelineDag(cfg, stage) for cfg in _loaded().configs]


def check_configs() -> None:
    """Raise a :class:`ConfigError` naming every broken config (file and key), if there is one."""
    loaded = _loaded()
    if loaded.errors:
        files = ", ".join(loaded.errors)
        raise ConfigError(
            f"{len(loaded.errors)} pipeline config(s) not loaded ({files}); the DAGs of the "
            f"{len(loaded.configs)} other(s) are unaffected:\n" + "\n".join(loaded.errors.values())
        )


def pipeline_of(context: Context) -> str:
    """The pipeline a running task belongs to, from its DAG id."""
    dag = context.get("dag")
    dag_id_ = dag.dag_id if dag is not None else context["ti"].dag_id
    return _split(dag_id_)[0]


def pipeline_config(context: Context) -> PipelineConfig:
    """The config of the pipeline a running task belongs to (read at run time, never cached)."""
    from driftloop.core.pipelines import find_pipeline

    return find_pipeline(pipeline_of(context))
