"""Drift check of in-memory data: what the daily check does with stored partitions, in one call."""

from __future__ import annotations

from typing import Any

from driftloop.core.config import PipelineConfig
from driftloop.drift import Accumulator, DriftResult, Profile, detect


def compare(
    profile: Profile, data: Any, cfg: PipelineConfig, scores: Any | None = None
) -> DriftResult:
    """Stream ``data`` (and optional ``scores``) into an accumulator and detect drift."""
    acc = Accumulator(profile).update_all(data)
    if scores is not None and profile.score is not None:
        acc.update_scores(scores)
    return detect(profile, acc, cfg)
