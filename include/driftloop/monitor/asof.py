"""What a decision of day D may see: the champion serving on D and the labels landed by D.

The daily check builds one :class:`AsOf` and hands it to every reader (live metric, estimates and
their errors, decay onset, the labelled days the policy counts), instead of each reader going to
storage with the day alone. So a check of D decides the same in a day-by-day run, in a backfill
whose later days and labels are already in storage, and in a rerun after more labels arrived and
another version was promoted: the champion comes from the registry's records
(:func:`driftloop.model.registry.champion_on`), the labels from the label store as of D
(:mod:`driftloop.data.labels`), and the champion's predictions are read once per day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.core.metrics import metric_table
from driftloop.core.partition import Partition
from driftloop.core.storage import PREDICTIONS, VALIDATED, Store, as_date
from driftloop.data.labels import label_arrivals, read_labels
from driftloop.tracking.mlflow import TAG_PARTITION_DATE, TAG_PARTITIONS, mlflow_client, run_id_of

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.core.config import PipelineConfig
    from driftloop.drift import Profile


@dataclass
class ChampionContext:
    """What the check needs to know about the production model."""

    version: str | None
    profile: Profile | None
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    training_end: date | None = None
    # The partitions it was trained and held out on (not live data for performance).
    trained_days: list[date] = field(default_factory=list)


def _holdout_metrics(metrics: dict[str, float], task: str) -> dict[str, float]:
    """The monitored metrics among a training run's metrics (logged under their plain names)."""
    return {m: float(metrics[m]) for m in metric_table(task).names if m in metrics}


def scored_by(store: Store, day: date) -> str | None:
    """The version whose predictions of ``day`` are stored: the model that actually served it.

    A promotion made after a day was scored but before it was checked (a shadow review, a manual
    promotion) starts serving from the next scored day. None when ``day`` has no predictions, was
    scored late from the backlog (no champion served it on the day), or several versions scored it
    (which a rescoring never leaves).
    """
    from driftloop.model.scoring import scored_from_backlog

    if not store.partition_exists(PREDICTIONS, day) or scored_from_backlog(store, day):
        return None
    versions = store.read_table(PREDICTIONS, day)["model_version"].astype(str).unique()
    return str(versions[0]) if len(versions) == 1 else None


def champion_context(
    cfg: PipelineConfig,
    profile_path: Path | None = None,
    day: date | None = None,
    store: Store | None = None,
) -> ChampionContext:
    """The champion's version, reference profile, holdout metrics and training end date.

    ``day``: the champion that was serving on that partition day: the version that scored it
    (:func:`scored_by`, with ``store``), else the registry's records; None: today's
    ``@champion``. With ``profile_path`` the given profile replaces the champion's (to check data
    without a model).
    """
    from driftloop.drift import Profile
    from driftloop.model import registry

    if day is None:
        current = registry.champion(cfg)
        version = None if current is None else str(current.version)
    else:
        served = scored_by(store, day) if store is not None else None
        version = served or registry.champion_on(cfg, day)
    profile = Profile.from_json(profile_path.read_text()) if profile_path else None
    if version is None:
        return ChampionContext(None, profile)
    champ = registry.get_version(cfg, version)
    if profile is None:
        profile = registry.load_reference_profile(cfg, version)
    run = mlflow_client(cfg).get_run(run_id_of(champ))
    tag = run.data.tags.get(TAG_PARTITION_DATE)
    trained = json.loads(run.data.tags.get(TAG_PARTITIONS) or "[]")
    return ChampionContext(
        version=version,
        profile=profile,
        holdout_metrics=_holdout_metrics(run.data.metrics, cfg.dataset.task),
        training_end=Partition.of(tag).day if tag else None,
        trained_days=[as_date(d) for d in trained],
    )


@dataclass
class AsOf:
    """The store as the check of ``day`` may see it (built once per check by :func:`as_of`).

    ``arrivals``: label day -> the first delivery that brought its labels, for the label days
    landed by ``day``. Every label day a reader was served is remembered (``label_days_seen``),
    so the report can say which labels the decision counted.
    """

    cfg: PipelineConfig
    store: Store
    day: date
    champion: ChampionContext
    arrivals: dict[date, date]
    _validated: set[date] = field(default_factory=set)
    _predictions: dict[date, pd.DataFrame | None] = field(default_factory=dict)
    _seen: set[date] = field(default_factory=set)

    @property
    def version(self) -> str | None:
        """The version of the champion serving on ``day``."""
        return self.champion.version

    def labelled_days(self, start: date, end: date) -> list[date]:
        """Validated days in ``[start, end]`` whose labels had landed by ``day`` (ascending)."""
        days = sorted(d for d in self.arrivals if start <= d <= end and d in self._validated)
        self._seen.update(days)
        return days

    def labels(self, label_day: date) -> pd.DataFrame:
        """The id and target of the labels of ``label_day`` landed by ``day`` (may be empty)."""
        ds = self.cfg.dataset
        first = self.arrivals.get(label_day)
        if first is None:
            import pandas as pd

            return pd.DataFrame(columns=[ds.id_column, ds.target])
        self._seen.add(label_day)
        return read_labels(self.store, self.cfg, label_day, self.day, first_arrival=first)

    def predictions(self, day: date) -> pd.DataFrame | None:
        """The champion's predictions of ``day`` (every column), read once; None when it has none."""
        if day not in self._predictions:
            self._predictions[day] = self._read_predictions(day)
        return self._predictions[day]

    def _read_predictions(self, day: date) -> pd.DataFrame | None:
        if not self.store.partition_exists(PREDICTIONS, day):
            return None
        df = self.store.read_table(PREDICTIONS, day)
        if self.version is not None:
            df = df[df["model_version"].astype(str) == self.version].reset_index(drop=True)
        return df

    def joined(self, day: date, columns: list[str] | None = None) -> pd.DataFrame | None:
        """The champion's predictions of ``day`` (``columns``, None: all) joined with the labels
        landed by ``day``; None when the day has no predictions or no labels yet."""
        if day not in self.arrivals:
            return None
        pred = self.predictions(day)
        if pred is None:
            return None
        if columns is not None:
            pred = pred[[c for c in [*columns, "model_version"] if c in pred.columns]]
        return pred.merge(self.labels(day), on=self.cfg.dataset.id_column, how="inner")

    def to_dict(self) -> dict[str, Any]:
        """The report's ``as_of``: the cutoff, the champion judged and the label days counted."""
        return {
            "day": self.day.isoformat(),
            "champion_version": self.version,
            "labels_landed_by": self.day.isoformat(),
            "label_days": [d.isoformat() for d in sorted(self._seen)],
        }


def as_of(
    cfg: PipelineConfig,
    store: Store,
    day: date,
    champion: ChampionContext,
) -> AsOf:
    """The view of the store for a decision of ``day``: every label day up to ``day`` whose labels
    had landed by then (the windows of a decision of ``day`` end on it)."""
    arrivals = label_arrivals(store, day, until=day)
    validated = {d for d in store.partitions(VALIDATED) if d <= day}
    return AsOf(cfg, store, day, champion, arrivals, _validated=validated)


__all__ = ["AsOf", "ChampionContext", "as_of", "champion_context", "scored_by"]
