"""The Airflow assets of this pipeline: one per data zone that another DAG reacts to.

Events on these assets carry the partition they concern in their ``extra`` (``{"partition": day}``),
so the consuming DAG never guesses the day from the clock.
"""

from __future__ import annotations

import os

from airflow.sdk import Asset

__all__ = ["DRIFT_REPORT", "LABELS", "MODEL", "PIPELINE", "PREDICTIONS", "VALIDATED", "asset"]

PIPELINE = os.environ.get("DRIFTLOOP_PIPELINE", "churn")


def asset(zone: str) -> Asset:
    """The asset of one data zone of this pipeline (e.g. ``validated``, ``predictions``)."""
    return Asset(name=f"{PIPELINE}.{zone}", uri=f"x-driftloop://{PIPELINE}/{zone}")


VALIDATED = asset("validated")
LABELS = asset("labels")
PREDICTIONS = asset("predictions")
DRIFT_REPORT = asset("drift_report")
MODEL = asset("model")
