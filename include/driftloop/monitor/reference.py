"""What the daily drift check compares current data with: the drift reference (``drift.reference``).

* ``champion_window`` (default): the champion's reference profile, i.e. its training data.
* ``same_period_last_cycle``: the validated data of the same window one cycle
  (``drift.reference_cycle_days``, e.g. 365) earlier, counted in the champion's bins (same edges,
  grids and scales, so the statistics and thresholds mean the same). For data that is seasonal by
  nature: March is compared with last March, not with the months the champion was trained on, so
  the season alone raises no alarm while a change against last year still does. The prediction
  reference is the champion's own predictions on that period (scored here, in memory), so the
  season does not move prediction drift either.

When the period a cycle earlier holds fewer validated rows than ``drift.min_samples`` (a young
deployment, a gap), the champion's profile is used and the report says so: never silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from driftloop.core.storage import VALIDATED, Store

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.drift import Accumulator, Profile

CHAMPION_WINDOW = "champion_window"
SAME_PERIOD_LAST_CYCLE = "same_period_last_cycle"


@dataclass
class Reference:
    """The reference a check used, and why (``to_dict()`` goes into report.json)."""

    kind: str
    configured: str
    note: str
    profile: Profile = field(repr=False)
    cycle_days: int | None = None
    days: list[str] = field(default_factory=list)
    rows: int | None = None
    fallback: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("profile")
        return out


def choose_reference(
    cfg: PipelineConfig,
    store: Store,
    day: date,
    current_days: list[date],
    champion_profile: Profile,
    champion_version: str | None,
) -> Reference:
    """The reference profile for the check of ``day`` (drift window ``current_days``), as configured.

    The seasonal reference is the whole drift window (``drift.window_days`` ending ``day``) one cycle
    earlier: every validated partition in it, whatever their dates (a 365-day cycle from a month's
    first day lands on the 2nd after a leap day; the window still holds that month's partition).
    """
    d = cfg.drift
    if d.reference == CHAMPION_WINDOW or not current_days:
        return Reference(
            CHAMPION_WINDOW,
            d.reference,
            "the champion's training data (its reference profile)",
            champion_profile,
        )
    cycle = d.reference_cycle_days
    end = day - timedelta(days=cycle)
    wanted = [end - timedelta(days=i) for i in range(d.window_days - 1, -1, -1)]
    present = set(store.partitions(VALIDATED))
    days = [x for x in wanted if x in present]
    acc = _accumulate(cfg, store, days, champion_profile, champion_version)
    period = f"{wanted[0].isoformat()} to {wanted[-1].isoformat()}"
    if acc.n_rows < d.min_samples:
        return Reference(
            CHAMPION_WINDOW,
            d.reference,
            f"fallback to the champion's training data: the same period one cycle ({cycle} days) "
            f"earlier ({period}) has {acc.n_rows} validated rows, fewer than drift.min_samples "
            f"({d.min_samples})",
            champion_profile,
            cycle_days=cycle,
            days=[x.isoformat() for x in days],
            rows=acc.n_rows,
            fallback=True,
        )
    profile = acc.as_profile()
    scored = acc.n_scores > 0
    if not scored:  # no model to score the period with: prediction drift keeps the champion's
        profile.score, profile.class_scores = champion_profile.score, champion_profile.class_scores
    return Reference(
        SAME_PERIOD_LAST_CYCLE,
        d.reference,
        f"the same period one cycle ({cycle} days) earlier: {period} ({acc.n_rows} validated "
        f"rows), in the champion's bins; prediction drift against "
        + (
            "the champion's predictions on that period"
            if scored
            else "the champion's holdout predictions"
        ),
        profile,
        cycle_days=cycle,
        days=[x.isoformat() for x in days],
        rows=acc.n_rows,
    )


def _accumulate(
    cfg: PipelineConfig,
    store: Store,
    days: list[date],
    champion_profile: Profile,
    champion_version: str | None,
) -> Accumulator:
    """Stream the validated rows of ``days`` (and the champion's predictions of them) into bins."""
    from driftloop.drift import Accumulator

    acc = Accumulator(champion_profile)
    wants_scores = champion_profile.score is not None or bool(champion_profile.class_scores)
    model = None
    if days and wants_scores and champion_version is not None:
        from driftloop.model.model_io import load_model

        model = load_model(cfg, champion_version)
    columns = champion_profile.feature_names
    for batch in store.iter_batches(VALIDATED, days, columns=columns):
        acc.update(batch)
        if model is not None:
            _update_scores(cfg, acc, model, batch.to_pandas(), champion_profile)
    return acc


def _update_scores(
    cfg: PipelineConfig, acc: Accumulator, model: Any, frame: Any, profile: Profile
) -> None:
    """Add the champion's predictions of ``frame`` to the score bins (as scoring writes them)."""
    import pyarrow as pa

    from driftloop.core.metrics import DECISION_THRESHOLD
    from driftloop.model.scoring import output_columns

    out = output_columns(cfg, model, frame, DECISION_THRESHOLD)
    if profile.class_scores:
        acc.update_class_scores(pa.table({c.name: out[c.name] for c in profile.class_scores}))
    elif profile.score is not None:
        acc.update_scores(out[profile.score.name])


__all__ = ["CHAMPION_WINDOW", "SAME_PERIOD_LAST_CYCLE", "Reference", "choose_reference"]
