"""The Airflow assets of a pipeline: one per data zone that another DAG reacts to.

Each pipeline has its own (``<pipeline>.<zone>``, ``x-driftloop://<pipeline>/<zone>``), so two
pipelines never trigger each other. Events on these assets carry the partition they concern in
their ``extra`` (``{"partition": day}``), so the consuming DAG never guesses the day from the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk import Asset

__all__ = ["ZONES", "PipelineAssets", "asset", "pipeline_assets"]

ZONES = ("validated", "labels", "predictions", "drift_report", "model", "landed")


def asset(pipeline: str, zone: str) -> Asset:
    """The asset of one data zone of ``pipeline`` (e.g. ``validated``, ``predictions``)."""
    return Asset(name=f"{pipeline}.{zone}", uri=f"x-driftloop://{pipeline}/{zone}")


@dataclass(frozen=True)
class PipelineAssets:
    """The assets of one pipeline, by zone."""

    validated: Asset
    labels: Asset
    predictions: Asset
    drift_report: Asset
    model: Asset
    # A partition has landed: recorded from the arrival queue (``arrival.mode: queue``) or by a
    # producer through the REST API; ingest consumes it in queue mode.
    landed: Asset


def pipeline_assets(pipeline: str) -> PipelineAssets:
    """The assets of ``pipeline``."""
    return PipelineAssets(*(asset(pipeline, zone) for zone in ZONES))
