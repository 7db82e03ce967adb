"""The monitoring view's data (a pipeline's timeline from storage) and its rendering as HTML + SVG."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

import pytest

from driftloop.core.partition import SUCCESS, Zone
from driftloop.core.storage import DRIFT, QUARANTINE, VALIDATED, Store, open_store, partition_prefix
from driftloop.drift.detect import RULE, DriftResult, FeatureDrift, PredictionDrift
from driftloop.monitor.monitoring import MonitoringReport, PerformanceResult
from driftloop.monitor.policy import RetrainDecision
from driftloop.monitor.report import JSON_NAME, report_dict
from driftloop.monitor.timeline import Marker, VersionBand, build_timeline
from driftloop.monitor.timeline_view import ESTIMATE_COLOUR, render_timeline

START = date(2026, 3, 1)
MODEL = "churn-model"
FEATURES = ("tenure_months", "monthly_charges", "contract", "region")


def d(i: int) -> date:
    return START + timedelta(days=i)


def _report(
    day: date,
    version: str,
    psi: dict[str, float],
    *,
    retrain: bool = False,
    reason: str = "no signal",
    live: float | None = 0.8,
    prediction_psi: float | None = 0.05,
    estimated: float | None = None,
    fired: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A report.json body made by the same classes and function the daily check uses."""
    features = [
        FeatureDrift(
            name=name,
            type="numeric",
            psi=psi.get(name, 0.01),
            js=0.01,
            wasserstein=0.01,
            drifted=psi.get(name, 0.0) > 0.2,
            critical=False,
            n_current=900,
            missing_share_reference=0.0,
            missing_share_current=0.0,
            bins=["a", "b"],
            reference=[0.5, 0.5],
            current=[0.5, 0.5],
        )
        for name in FEATURES
    ]
    drifted = [f.name for f in features if f.drifted]
    share = len(drifted) / len(features)
    prediction = (
        PredictionDrift(prediction_psi, 0.01, 0.01, 0.25, prediction_psi > 0.25, 900, [], [], [])
        if prediction_psi is not None
        else None
    )
    drift = DriftResult(
        status="drift" if share >= 0.08 else "no_drift",
        n_reference=3000,
        n_current=900,
        min_samples=500,
        features=features,
        drifted=drifted,
        critical_drifted=[],
        drift_share=share,
        dataset_drift=share >= 0.08,
        prediction=prediction,
        thresholds={"drift_share": 0.08, "psi": 0.2, "js": 0.1, "wasserstein": 0.15},
        rule=RULE,
    )
    perf = PerformanceResult(
        status="ok" if live is not None else "insufficient_labels",
        model_version=version,
        n_labelled=1200,
        min_labelled=1000,
        primary_metric="roc_auc",
        live={"roc_auc": live},
        holdout={"roc_auc": 0.85},
        decay=None if live is None else 0.85 - live,
        tolerance=0.04,
    )
    report = MonitoringReport(day.isoformat(), version, None, drift, perf, [], [])
    decision = RetrainDecision(retrain=retrain, reason=reason, signals={}, fired=list(fired))
    body = report_dict(report, decision)
    if estimated is not None:  # the daily check's estimate before labels (contract of report.json)
        drop = 0.85 - estimated > 0.04
        body["estimated_performance"] = {
            "method": "cbpe", "metric": "roc_auc", "holdout_value": 0.85,
            "day": {"date": day.isoformat(), "value": estimated - 0.01, "rows": 300},
            "window": {"days": [day.isoformat()], "value": estimated},
            "tolerance": 0.04, "drop": drop,
            "reason": f"estimated roc_auc {estimated} below holdout 0.85" if drop else None,
        }  # fmt: skip
    return body


def _bootstrap(day: date, retrain: bool) -> dict[str, Any]:
    decision = RetrainDecision(retrain, "bootstrap: no champion yet", {}, bootstrap=True)
    return {"day": day.isoformat(), "champion_version": None, "status": "no_champion",
            "decision": decision.to_dict(), "trigger_conf": None}  # fmt: skip


def _write_report(store: Store, day: date, body: dict[str, Any]) -> None:
    store.write_partition(DRIFT, day, {JSON_NAME: json.dumps(body).encode()})


def _validated(store: Store, day: date, rows: int) -> None:
    store.write_partition(VALIDATED, day, {"part-0.parquet": b"not read"}, {"rows": rows})


def _reason(store: Store, zone: Zone, day: date, body: dict[str, Any]) -> None:
    store.write_partition(zone, day, {"reason.json": json.dumps(body).encode()})


def _record(store: Store, version: str, action: str, day: date, **body: Any) -> None:
    record = {"version": version, "action": action, "partition_date": day.isoformat(), **body}
    key = f"registry/decisions/{MODEL}/v{version}-{action}.json"
    store.write_bytes(key, json.dumps(record).encode())


@pytest.fixture
def history(tmp_path) -> Store:
    """Seven days: a bootstrap, v1's days, a drift that retrains, v2's day, quarantines."""
    store = open_store(str(tmp_path / "data"))
    for i in range(7):
        if i != 3:
            _validated(store, d(i), 300)
    _reason(store, QUARANTINE, d(3), {"rows": 120, "summary": "validation of day 3 failed"})
    _reason(store, Zone.QUARANTINE_ROWS, d(5), {"quarantined_rows": 12, "summary": "12 bad"})
    _write_report(store, d(0), _bootstrap(d(0), retrain=True))
    _write_report(store, d(1), _report(d(1), "1", {}, live=None, estimated=0.84))
    _write_report(
        store, d(2), _report(d(2), "1", {"contract": 0.3}, prediction_psi=0.3, estimated=0.83)
    )
    _write_report(
        store,
        d(4),
        _report(d(4), "1", {"contract": 0.5, "region": 0.4}, retrain=True, reason="drift <b>",
                estimated=0.78, fired=("feature_drift", "estimated_drop")),
    )  # fmt: skip
    _write_report(store, d(6), _report(d(6), "2", {}, live=0.86, estimated=0.86))
    _record(store, "1", "gate", d(0), decision={"promote": True, "reason": "first model"})
    _record(store, "1", "promote", d(0), changed=True, reason="bootstrap")
    _record(store, "2", "gate", d(4), decision={"promote": True, "reason": "better"})
    _record(store, "2", "promote", d(4), changed=True, reason="drift retrain")
    _record(store, "3", "rejected", d(6), reason="not now")
    return store


def test_timeline_gathers_rows_checks_bands_and_markers(history: Store) -> None:
    t = build_timeline(history, "churn", MODEL)
    assert [x.day for x in t.days] == [d(i) for i in range(7)]
    assert [x.validated_rows for x in t.days] == [300, 300, 300, None, 300, 300, 300]
    assert [x.quarantined_rows for x in t.days] == [None, None, None, 120, None, 12, None]
    assert [x.quarantined for x in t.days] == [False, False, False, True, False, False, False]
    assert t.days[3].check is None and t.days[5].check is None  # not checked those days
    boot = t.days[0].check
    assert boot is not None and boot.status == "no_champion" and boot.retrain
    drift = t.days[4].check
    assert drift is not None and drift.status == "drift" and drift.verdict == "retrain"
    assert drift.drift_share == pytest.approx(0.5) and drift.drift_threshold == 0.08
    assert drift.drifted == ("contract", "region") and drift.psi["contract"] == 0.5
    assert drift.live == 0.8 and drift.holdout == 0.85 and drift.reason == "drift <b>"
    assert t.days[2].check is not None and t.days[2].check.prediction_drifted
    assert t.days[1].check is not None and t.days[1].check.live is None
    # The estimate before labels: window value, the day's own value, method and the drop verdict.
    assert [(c.estimated, c.estimated_day, c.estimate_drop) for _, c in t.checks] == [
        (None, None, False),
        (0.84, pytest.approx(0.83), False),
        (0.83, pytest.approx(0.82), False),
        (0.78, pytest.approx(0.77), True),
        (0.86, pytest.approx(0.85), False),
    ]
    assert drift.estimate_method == "cbpe" and "below holdout" in (drift.estimate_reason or "")
    assert t.days[1].check.estimate_reason is None
    assert drift.fired == ("feature_drift", "estimated_drop") and t.days[6].check.fired == ()  # type: ignore[union-attr]
    assert t.metric == "roc_auc"
    assert t.top_drifted() == [("contract", 2), ("region", 1)]
    assert t.bands == [VersionBand("1", d(1), d(4)), VersionBand("2", d(6), d(6))]
    assert [(m.day, m.kind, m.version) for m in t.markers] == [
        (d(0), "retrain", None),
        (d(0), "trained", "1"),
        (d(0), "promoted", "1"),
        (d(4), "retrain", None),
        (d(4), "trained", "2"),
        (d(4), "promoted", "2"),
        (d(6), "rejected", "3"),
    ]
    assert t.markers[-1].text == "v3 rejected: not now"


def test_rollback_is_marked_where_the_restored_champion_is_back(tmp_path) -> None:
    store = open_store(str(tmp_path / "data"))
    for i, version in enumerate(["1", "2", "2", "1", "1"]):
        _write_report(store, d(i), _report(d(i), version, {}))
    _record(store, "1", "rollback-from-v2", d(0), reason="bad release")
    _record(store, "2", "promote", d(1), changed=False, reason="rerun")  # no change: no marker
    t = build_timeline(store, "churn", MODEL)
    assert t.markers == [
        Marker(d(3), "rollback", "1", "rolled back from v2 to v1: bad release"),
    ]
    assert [b.version for b in t.bands] == ["1", "2", "1"]


def test_empty_storage_is_an_empty_timeline(tmp_path) -> None:
    t = build_timeline(open_store(str(tmp_path / "none")), "churn", MODEL)
    assert t.days == [] and t.markers == [] and t.bands == []
    page = render_timeline(t, lambda day: f"/r/{day}")
    assert "Nothing in storage yet" in page and "<svg" not in page


def test_ingest_records_the_row_count_the_timeline_reads(cfg, store) -> None:
    """Ingest's validated marker carries the row count; older markers fall back to the footer."""
    from driftloop.data import synth
    from driftloop.data.ingest import ingest_partition

    synth.write_day(store, cfg, START, synth.Scenario(), seed=2, rows=250)
    result = ingest_partition(cfg, START, store)
    assert result.status == "validated"
    marker = store.read_json(f"{partition_prefix(VALIDATED, START)}/{SUCCESS}")
    assert marker == {"files": ["part-0.parquet"], "rows": result.rows}
    assert build_timeline(store, "churn", MODEL).days[0].validated_rows == result.rows > 0
    # A partition written before markers carried a count: the Parquet footer says.
    store.write_bytes(f"{partition_prefix(VALIDATED, START)}/{SUCCESS}", b'{"files": []}')
    assert build_timeline(store, "churn", MODEL).days[0].validated_rows == result.rows


def _svgs(page: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed (so each is well-formed XML)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", page, flags=re.S)]


def test_rendering_draws_the_markers_bands_and_decision_log(history: Store) -> None:
    t = build_timeline(history, "churn", MODEL)
    page = render_timeline(t, lambda day: f"/driftloop/churn/reports/{day}/report.html")
    svgs = _svgs(page)
    assert len(svgs) == 6  # versions, drift, features, prediction, performance, rows
    ns = "{http://www.w3.org/2000/svg}"
    markers = [
        (g.get("class"), g.get("data-day"), g.get("data-version"))
        for g in svgs[0].iter(f"{ns}g")
        if "marker" in (g.get("class") or "")
    ]
    assert markers == [
        ("marker marker-retrain", "2026-03-01", ""),
        ("marker marker-trained", "2026-03-01", "1"),
        ("marker marker-promoted", "2026-03-01", "1"),
        ("marker marker-retrain", "2026-03-05", ""),
        ("marker marker-trained", "2026-03-05", "2"),
        ("marker marker-promoted", "2026-03-05", "2"),
        ("marker marker-rejected", "2026-03-07", "3"),
    ]
    bands = [g.get("data-version") for g in svgs[0].iter(f"{ns}g") if g.get("class") == "band"]
    assert bands == ["1", "2"]
    texts = " ".join("".join(t.itertext()) for s in svgs for t in s.iter(f"{ns}text"))
    assert "promoted v2" in texts and "retrain requested" in texts and "contract" in texts
    # Rows: one validated bar per validated day, quarantined bars on the two days with quarantine.
    rows = svgs[5]
    assert len([r for r in rows.iter(f"{ns}rect") if r.get("class") == "rows-validated"]) == 6
    quarantined = [r for r in rows.iter(f"{ns}rect") if r.get("class") == "rows-quarantined"]
    assert [r.find(f"{ns}title").text.split(":")[0] for r in quarantined] == [  # type: ignore[union-attr]
        "2026-03-04",
        "2026-03-06",
    ]
    # Performance: holdout (grey), estimate before labels (orange), live (blue), each dot a title.
    perf = svgs[4]
    lines = [pl.get("stroke") for pl in perf.iter(f"{ns}polyline")]
    assert lines[0] == "#9aa5b1" and ESTIMATE_COLOUR in lines and lines[-1] == "#1f5fa8"
    tips = [c.find(f"{ns}title").text or "" for c in perf.iter(f"{ns}circle")]  # type: ignore[union-attr]
    estimated = [tip for tip in tips if "estimated" in tip]
    assert [tip.split(":")[0] for tip in estimated] == ["2026-03-02", "2026-03-03", "2026-03-05",
                                                        "2026-03-07"]  # fmt: skip
    assert "estimated roc_auc 0.7800 before labels (cbpe, v1; the day alone 0.7700)" in estimated[2]
    assert "drop beyond tolerance: estimated roc_auc 0.78 below holdout 0.85" in estimated[2]
    assert "within tolerance" in estimated[0]
    # Hovering an estimate whose report gives no reason still says what the drop is against.
    assert estimated[0].endswith("; within tolerance (holdout 0.8500)"), estimated[0]
    # The chart's own legend names its three lines, in the colours they are drawn with.
    section = page.split("<h2>Live performance</h2>")[1].split("</div>")[0]
    keys = re.findall(r'border-color:(#[0-9a-f]+);[^"]*"></i>([^<]+)</span>', section)
    assert keys == [("#1f5fa8", "live roc_auc"), (ESTIMATE_COLOUR, "roc_auc estimated before labels"),
                    ("#9aa5b1", "champion&#x27;s holdout roc_auc")], keys  # fmt: skip
    assert set(lines) == {colour for colour, _ in keys}
    # The estimate card is read against the holdout.
    assert "<b>0.860</b><span>estimated roc_auc (holdout 0.850)</span>" in page
    # The decision log: newest first, every checked day with its reason and report link.
    log = re.findall(r'<tr class="([a-z]*)" data-day="([0-9-]+)">(.*?)</tr>', page, flags=re.S)
    assert [day for _, day, _ in log] == ["2026-03-07", "2026-03-05", "2026-03-03", "2026-03-02",
                                          "2026-03-01"]  # fmt: skip
    cls, _, cells = log[1]
    assert cls == "retrain" and "drift &lt;b&gt;" in cells and "<b>" not in cells
    # Its estimate column: the window estimate, and the drop that is one of the policy's signals.
    assert "<td class='est'>0.780 <span class=\"pill p-drift\">drop</span></td>" in cells
    assert "<td class='est'>0.860</td>" in log[0][2] and "<td class='est'>–</td>" in log[-1][2]
    assert "<th>roc_auc estimated</th>" in page
    # Which signals fired, beside the decision.
    assert '<span class="pill p-signal">estimated drop</span>' in cells
    assert "p-signal" not in log[0][2]
    assert '<a href="/driftloop/churn/reports/2026-03-05/report.html">report</a>' in cells
    assert "v3" in page and "not now" in page  # the registry events table


def test_hundreds_of_days_build_and_render_fast(tmp_path) -> None:
    store = open_store(str(tmp_path / "data"))
    n = 400
    for i in range(n):
        _validated(store, d(i), 1000 + i)
        psi = {"contract": 0.3} if i % 50 < 5 else {}
        body = _report(d(i), str(1 + i // 100), psi, retrain=i % 100 == 4, estimated=0.8)
        _write_report(store, d(i), body)
    for v in range(2, 5):
        _record(store, str(v), "promote", d(100 * (v - 1) - 1), changed=True, reason="drift")
    started = time.perf_counter()
    t = build_timeline(store, "churn", MODEL)
    built = time.perf_counter() - started
    page = render_timeline(t, lambda day: f"/r/{day}")
    rendered = time.perf_counter() - started - built
    assert len(t.days) == n and len(t.bands) == 4 and len(t.markers) == 4 + 3
    assert len(_svgs(page)) == 6
    assert sum(c.estimated is not None for _, c in t.checks) == n
    print(f"{n} days: built in {built:.3f} s, rendered in {rendered:.3f} s")
    assert built < 3.0 and rendered < 1.0, (built, rendered)


def test_a_suppressed_retrain_says_so_beside_the_signals_that_fired(tmp_path) -> None:
    store = open_store(str(tmp_path / "data"))
    reason = (
        "suppressed: cooldown until 2026-03-09 (estimated drop: roc_auc 0.85 -> 0.78 estimated)"
    )
    for i, (why, fired) in enumerate([("no drift", ()), (reason, ("estimated_drop",))]):
        _validated(store, d(i), 300)
        _write_report(store, d(i), _report(d(i), "1", {}, reason=why, estimated=0.78, fired=fired))
    t = build_timeline(store, "churn", MODEL)
    assert [(c.verdict, c.suppressed) for _, c in t.checks] == [
        ("no retrain", False),
        ("retrain suppressed", True),
    ]
    page = render_timeline(t, lambda day: f"/r/{day}")
    log = dict(re.findall(r'data-day="([0-9-]+)">(.*?)</tr>', page, flags=re.S))
    # Not "no retrain" beside a fired signal, as if the signal had been ignored.
    assert '<span class="pill p-suppressed">retrain suppressed</span>' in log["2026-03-02"]
    assert '<span class="pill p-none">no retrain</span>' in log["2026-03-01"]
    assert "<b>retrain suppressed</b><span>on 2026-03-02</span>" in page  # the card
    # The reason's arrow is one character: a wrapped line cannot split it into "-" and "> 0.78".
    assert "roc_auc 0.85 → 0.78 estimated" in log["2026-03-02"] and "-&gt;" not in page
    # The estimate card says the drop and what it is measured against.
    assert "<b>0.780</b><span>estimated roc_auc: drop vs holdout 0.850</span>" in page


def test_a_version_whose_gate_failed_says_so_on_its_marker(tmp_path) -> None:
    store = open_store(str(tmp_path / "data"))
    for i in range(3):
        _validated(store, d(i), 300)
        _write_report(store, d(i), _report(d(i), "1", {}))
    _record(store, "2", "gate", d(1), decision={"promote": False, "reason": "below the floor"})
    t = build_timeline(store, "churn", MODEL)
    (marker,) = t.markers
    assert (marker.kind, marker.note) == ("trained", "gate failed")
    texts = ["".join(e.itertext()) for e in _svgs(render_timeline(t, str))[0].iter()
             if e.tag.endswith("text")]  # fmt: skip
    # Not a bare "trained v2" beside v1's band, as if v2 were on its way in.
    assert "trained v2, gate failed" in texts, texts


def test_a_metric_of_zero_is_shown_not_taken_for_missing(tmp_path) -> None:
    store = open_store(str(tmp_path / "data"))
    _validated(store, d(0), 300)
    body = _report(d(0), "1", {}, live=0.0)
    body["performance"]["holdout"] = {}  # no holdout figure for this metric
    _write_report(store, d(0), body)
    t = build_timeline(store, "churn", MODEL)
    page = render_timeline(t, lambda day: f"/r/{day}")
    log = dict(re.findall(r'data-day="([0-9-]+)">(.*?)</tr>', page, flags=re.S))
    assert "0.000 / –" in log["2026-03-01"], log["2026-03-01"]
