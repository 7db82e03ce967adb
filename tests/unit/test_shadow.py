"""The shadow comparison and verdict (pure): same rows, the gate's primary metric and direction."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from driftloop.core.config import Gate
from driftloop.core.metrics import metric_table
from driftloop.monitor.shadow import PartitionComparison, compare, verdict

DAY = date(2026, 1, 10)


def _predictions(ids: list[str], scores: np.ndarray, version: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ids,
            "score": scores,
            "predicted_label": (scores >= 0.5).astype("int8"),
            "model_version": version,
        }
    )


def test_compare_scores_both_models_on_the_same_labelled_rows(cfg) -> None:
    rng = np.random.default_rng(0)
    n = 400
    ids = [f"C{i}" for i in range(n)]
    y = rng.integers(0, 2, n)
    good = np.clip(y * 0.6 + rng.uniform(0, 0.4, n), 0, 1)  # separates the classes
    noise = rng.uniform(0, 1, n)
    labels = pd.DataFrame({"customer_id": ids[:300], "churned": y[:300]})  # 100 rows unlabelled
    champion = _predictions(ids, noise, "1")
    # The challenger missed 50 rows (e.g. a shadow partition written from a shorter delivery).
    challenger = _predictions(ids[50:], good[50:], "2")
    c = compare(cfg, DAY, champion, challenger, labels)
    assert (c.partition, c.metric, c.rows) == ("2026-01-10", "roc_auc", 250)
    assert (c.champion_version, c.challenger_version) == ("1", "2")
    assert c.challenger == 1.0
    assert c.champion is not None and abs(c.champion - 0.5) < 0.15


def _c(day: int, champion: float | None, challenger: float | None) -> PartitionComparison:
    return PartitionComparison(
        f"2026-01-{day:02d}", "roc_auc", 1000, "1", "2", champion, challenger
    )


GATE = Gate(shadow_partitions=2, shadow_margin=0.01, shadow_max_days=6)


@pytest.mark.parametrize(
    ("compared", "today", "outcome", "says"),
    [
        ([], 12, "waiting", "0/2 labelled partitions compared"),
        ([_c(10, 0.80, 0.90)], 14, "waiting", "1/2"),
        # A partition without a metric (one class only) does not count.
        ([_c(10, 0.80, 0.90), _c(11, None, 0.9)], 15, "waiting", "1/2"),
        ([_c(10, 0.80, 0.90)], 16, "reject", "shadow timed out: 1/2 labelled partitions after 6"),
        ([_c(10, 0.80, 0.84), _c(11, 0.80, 0.82)], 14, "promote", "won in shadow"),
        ([_c(10, 0.80, 0.70), _c(11, 0.80, 0.85)], 14, "reject", "lost in shadow"),
        # Better, but by less than the margin; a tie keeps the champion.
        ([_c(10, 0.80, 0.805), _c(11, 0.80, 0.805)], 14, "reject", "needs +0.01"),
        ([_c(10, 0.80, 0.80), _c(11, 0.80, 0.80)], 14, "reject", "lost in shadow"),
        # Only the first N partitions decide.
        ([_c(12, 0.8, 0.1), _c(10, 0.8, 0.9), _c(11, 0.8, 0.9)], 20, "promote", "2/2 partitions"),
    ],
)
def test_verdict(compared, today: int, outcome: str, says: str) -> None:
    v = verdict(compared, GATE, since=date(2026, 1, 10), today=date(2026, 1, today))
    assert v.outcome == outcome
    assert says in v.reason


def test_verdict_follows_the_metric_direction() -> None:
    gate = Gate(primary_metric="rmse", floor=None, guards={}, shadow_partitions=1)
    lower = PartitionComparison("2026-01-10", "rmse", 10, "1", "2", 5.0, 4.0)
    higher = PartitionComparison("2026-01-10", "rmse", 10, "1", "2", 5.0, 6.0)
    table = metric_table("regression")
    kw = {"since": date(2026, 1, 10), "today": date(2026, 1, 14), "table": table}
    won, lost = verdict([lower], gate, **kw), verdict([higher], gate, **kw)
    assert won.outcome == "promote" and "change +1.0000" in won.reason
    assert lost.outcome == "reject" and "change -1.0000" in lost.reason


def test_shadow_evidence_shows_each_partition_on_the_same_rows() -> None:
    from driftloop.model.evidence import shadow_evidence

    v = verdict([_c(10, 0.80, 0.84), _c(11, 0.80, 0.70)], GATE, since=DAY, today=date(2026, 1, 14))
    text = shadow_evidence({"since": "2026-01-10", **v.to_dict()}, metric_table())
    # The outcome leads, once ("In shadow since ...: lost in shadow: ..." said it twice).
    assert text.startswith("**Lost in shadow** (since 2026-01-10): roc_auc over 2"), text
    assert text.lower().count("in shadow") == 1
    assert "same labelled rows of each live partition" in text
    # Both value columns name the metric; row counts with a thousands separator, as the view has.
    assert "| partition | rows | challenger roc_auc | champion roc_auc | change |" in text
    assert "| 2026-01-10 | 1,000 | 0.8400 | 0.8000 (v1) | +0.0400 |" in text
    assert "| 2026-01-11 | 1,000 | 0.7000 | 0.8000 (v1) | -0.1000 |" in text
    waiting = verdict([_c(10, 0.80, 0.84)], GATE, since=DAY, today=date(2026, 1, 11))
    text = shadow_evidence({"since": "2026-01-10", **waiting.to_dict()}, metric_table())
    assert text.startswith("**In shadow since 2026-01-10:** 1/2 labelled partitions compared.")
