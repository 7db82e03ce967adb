"""How far the estimated performance was from the realised one, once the labels landed.

The daily check estimates the champion's primary metric of each day before its labels exist (one
``estimate.json`` per checked day, read by :func:`driftloop.monitor.estimates.read_estimates`).
When a day's labels arrive, the same model version's predictions of that day joined with them give
the realised metric (:func:`driftloop.monitor.monitoring.daily_metrics`, the metric code the
monitoring uses). :func:`estimation_rows` pairs the two per day; :func:`mean_absolute_error` sums
up how good the estimator was; :func:`driftloop.monitor.estimates.estimation_error` applies both
to every estimate in storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from driftloop.core.storage import as_date
from driftloop.monitor.monitoring import daily_metrics

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.core.storage import Store
    from driftloop.monitor.asof import AsOf

__all__ = ["EstimationRow", "estimation_rows", "mean_absolute_error"]


@dataclass(frozen=True)
class EstimationRow:
    """One estimated day: the estimate, and the realised metric once its labels landed."""

    date: str
    model_version: str | None
    metric: str
    method: str | None
    estimated: float | None
    realised: float | None  # None: labels not landed yet (or no rows of that model version)

    @property
    def error(self) -> float | None:
        """estimated - realised (None while either is unknown)."""
        if self.estimated is None or self.realised is None:
            return None
        return self.estimated - self.realised

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error": self.error}


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def estimation_rows(
    store: Store,
    cfg: PipelineConfig,
    estimates: Mapping[Any, Mapping[str, Any]],
    view: AsOf | None = None,
) -> list[EstimationRow]:
    """Per estimated day (oldest first): the estimate and the realised metric of the same model.

    ``estimates`` maps a day to its estimate record (``date``, ``model_version``, ``metric``,
    ``method``, ``value``...). The realised value is the estimate's metric over that day's
    predictions of the estimate's model version joined with the labels that have arrived (by the
    day of ``view``, the check's as-of view, for estimates of its champion).
    """
    rows = []
    for key in sorted(estimates, key=lambda k: as_date(k)):
        est = estimates[key]
        day = as_date(key)
        version = est.get("model_version")
        version = None if version is None else str(version)
        metric = str(est.get("metric") or cfg.gate.primary_metric)
        # Without a model version, every prediction of the day would be measured: not comparable.
        through = view if view is not None and view.version == version else None
        realised = daily_metrics(store, cfg, day, version, through) if version is not None else None
        rows.append(
            EstimationRow(
                date=day.isoformat(),
                model_version=version,
                metric=metric,
                method=est.get("method"),
                estimated=_number(est.get("value")),
                realised=_number((realised or {}).get(metric)),
            )
        )
    return rows


def mean_absolute_error(rows: Iterable[EstimationRow]) -> float | None:
    """Mean |estimated - realised| over the days with both (None: no such day yet)."""
    errors = [abs(e) for r in rows if (e := r.error) is not None]
    return sum(errors) / len(errors) if errors else None
