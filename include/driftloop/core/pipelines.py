"""Many pipelines in one deployment: which configs are pipelines, and the ids of their DAGs.

Every ``*.yaml``/``*.yml`` file directly inside the configs folder is one pipeline (subfolders,
e.g. ``configs/examples/``, are not loaded). Where the configs come from, first match wins:

1. ``DRIFTLOOP_CONFIGS``: a folder of configs (or one config file);
2. ``DRIFTLOOP_CONFIG``: one config file, a single-pipeline deployment (also what the CLI reads);
3. the repository's ``configs/`` folder.

Each pipeline's DAGs are named ``<pipeline>__<stage>`` (:func:`dag_id`), e.g. ``churn__ingest``.
Nothing here imports Airflow: the CLI, the demo and the tests use the same names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from driftloop.core.config import CONFIG_ENV, ConfigError, PipelineConfig, load_config, project_root

__all__ = [
    "CONFIGS_ENV",
    "SEPARATOR",
    "STAGES",
    "Pipelines",
    "config_files",
    "dag_id",
    "find_pipeline",
    "load_pipelines",
    "split_dag_id",
]

CONFIGS_ENV = "DRIFTLOOP_CONFIGS"
# The DAGs every pipeline gets, in the order data flows through them.
STAGES = ("ingest", "score", "drift_check", "train", "promote")
SEPARATOR = "__"
_SUFFIXES = (".yaml", ".yml")


def dag_id(pipeline: str, stage: str) -> str:
    """The id of a pipeline's DAG, e.g. ``dag_id("churn", "train") == "churn__train"``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    return f"{pipeline}{SEPARATOR}{stage}"


def split_dag_id(dag_id_: str) -> tuple[str, str]:
    """``(pipeline, stage)`` of a DAG id made by :func:`dag_id` (stages contain no ``__``)."""
    pipeline, sep, stage = dag_id_.rpartition(SEPARATOR)
    if not sep or not pipeline or stage not in STAGES:
        raise ValueError(f"{dag_id_!r} is not a pipeline DAG id (<pipeline>{SEPARATOR}<stage>)")
    return pipeline, stage


def config_files(source: str | os.PathLike[str] | None = None) -> list[Path]:
    """The pipeline config files, sorted: ``source`` (a folder or a file) or as the module says."""
    if source is None:
        source = os.environ.get(CONFIGS_ENV) or os.environ.get(CONFIG_ENV) or None
    path = Path(source) if source else project_root() / "configs"
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
    return [path]


@dataclass
class Pipelines:
    """The loaded pipelines, and the files that could not be (file -> message naming the key)."""

    configs: list[PipelineConfig] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [c.name for c in self.configs]


# What two pipelines must not share: they would overwrite each other's data or models.
_DISTINCT = {
    "name": lambda c: c.name,
    "storage.root": lambda c: c.storage.root.rstrip("/"),
    "mlflow.registered_model": lambda c: (c.tracking_uri(), c.model_name),
}


def load_pipelines(source: str | os.PathLike[str] | None = None) -> Pipelines:
    """Load every pipeline config once; a broken one is reported, never hides the others.

    A config that clashes with an earlier one (same name, storage root or registered model) is
    reported as an error too, naming the key and the file it clashes with.
    """
    out = Pipelines()
    owners: dict[tuple[str, object], str] = {}
    for path in config_files(source):
        try:
            cfg = load_config(path)
        except ConfigError as err:
            out.errors[str(path)] = str(err)
            continue
        clashes = [
            f"  {key}: same as {owners[(key, get(cfg))]}"
            for key, get in _DISTINCT.items()
            if (key, get(cfg)) in owners
        ]
        if clashes:
            out.errors[str(path)] = "\n".join([f"invalid config {path}:", *clashes])
            continue
        owners.update({(key, get(cfg)): str(path) for key, get in _DISTINCT.items()})
        out.configs.append(cfg)
    return out


def find_pipeline(name: str, source: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """The config of pipeline ``name`` (at run time: a task knows its pipeline from its DAG id)."""
    loaded = load_pipelines(source)
    for cfg in loaded.configs:
        if cfg.name == name:
            return cfg
    broken = "".join(f"\n{msg}" for msg in loaded.errors.values())
    raise ConfigError(
        f"no pipeline named {name!r} in {', '.join(map(str, config_files(source)))}{broken}"
    )
