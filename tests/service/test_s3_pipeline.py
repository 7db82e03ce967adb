"""The data path of the production configuration on S3 (moto's server standing in for S3 / MinIO).

Storage root ``s3://driftloop/data`` and MLflow artifacts under ``s3://driftloop/mlflow``, with
MLflow's metadata on the real PostgreSQL, as in the compose stack. Demo days are delivered to
landing, ingested (validated or quarantined), a model is trained, gated and promoted, partitions are
scored with the model loaded back from S3, and the daily drift check writes its report. Every
outcome is read back from the bucket with a plain boto3 client, not through the storage layer.
"""

from __future__ import annotations

import io
import json
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from driftloop.core.storage import S3Store, open_store
from driftloop.data import synth
from driftloop.data.ingest import ingest_partition
from driftloop.model import registry
from driftloop.model.scoring import score_partition
from driftloop.model.train import train_model
from driftloop.monitor.daily_check import run_daily_check

BUCKET = "driftloop"
START = date(2026, 1, 1)
DAYS = 10
ROWS = 1000
INCIDENT = START + timedelta(days=8)  # 01-09: 40% nulls (GX fails); 01-10: text in a numeric column
TRAIN_END = START + timedelta(days=4)  # labelled 01-01..01-05: 2 training + 3 holdout days
CHECK_DAY = START + timedelta(days=7)  # drift window 01-06..01-08, after the training window
SCORED = [START + timedelta(days=i) for i in (5, 6, 7)]


def _keys(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _get(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _d(day: date) -> str:
    return day.isoformat()


def test_pipeline_on_s3(
    s3_endpoint: str, s3_client, postgres_db: str, cfg_factory, tmp_path: Path
) -> None:
    timings: dict[str, float] = {}
    cfg = cfg_factory(
        storage__root=f"s3://{BUCKET}/data",
        storage__s3_endpoint_url=s3_endpoint,
        mlflow__tracking_uri=postgres_db,
        mlflow__artifact_location=f"s3://{BUCKET}/mlflow",
        training__hyperparameters="{max_iter: 30, max_depth: 3}",
    )
    store = open_store(cfg.storage)
    assert isinstance(store, S3Store)
    s3 = s3_client

    # -- delivery: ten days to landing, with a data-quality incident at the end ----------------
    t = time.perf_counter()
    scenario = synth.Scenario("data_quality", drift_start=INCIDENT)
    synth.write_days(store, cfg, START, DAYS, scenario, seed=5, rows=ROWS)
    timings["synth"] = time.perf_counter() - t
    landing = _keys(s3, "data/landing/")
    assert len([k for k in landing if k.endswith("/features.csv")]) == DAYS
    # labels arrive 3 days late, in the landing folder of their arrival day
    assert "data/landing/2026-01-04/labels_2026-01-01.csv" in landing

    # -- ingest every day ----------------------------------------------------------------------
    t = time.perf_counter()
    results = {r.partition: r for r in (ingest_partition(cfg, day) for day in _days(DAYS))}
    timings["ingest"] = time.perf_counter() - t
    status = {p: r.status for p, r in results.items()}
    assert [p for p, s in status.items() if s == "quarantined"] == ["2026-01-09", "2026-01-10"]
    assert results["2026-01-09"].stage == "validation" and results["2026-01-10"].stage == "ingest"
    assert results["2026-01-01"].uri == f"s3://{BUCKET}/data/validated/date=2026-01-01"

    for day in _days(DAYS):
        prefix = f"data/validated/date={_d(day)}/"
        if day < INCIDENT:
            assert _keys(s3, prefix) == [prefix + "_SUCCESS", prefix + "part-0.parquet"]
            frame = pd.read_parquet(io.BytesIO(_get(s3, prefix + "part-0.parquet")))
            assert len(frame) == results[_d(day)].rows > 0
        else:
            assert _keys(s3, prefix) == []
    q9, q10 = "data/quarantine/date=2026-01-09/", "data/quarantine/date=2026-01-10/"
    assert _keys(s3, q9) == [
        q9 + name for name in ("_SUCCESS", "features.csv", "reason.json", "validation_result.json")
    ]
    assert _keys(s3, q10) == [q10 + name for name in ("_SUCCESS", "features.csv", "reason.json")]
    for q, day in ((q9, "2026-01-09"), (q10, "2026-01-10")):
        # the original delivery is kept byte for byte
        assert _get(s3, q + "features.csv") == _get(s3, f"data/landing/{day}/features.csv")
    reason9 = json.loads(_get(s3, q9 + "reason.json"))
    assert reason9["stage"] == "validation"
    assert any(f["column"] == "monthly_charges" for f in reason9["failed_expectations"])
    reason10 = json.loads(_get(s3, q10 + "reason.json"))
    assert "tenure_months" in reason10["summary"] and "unknown" in reason10["summary"]
    # the labels of 01-01..01-07 arrived (on 01-04..01-10), quarantined feature days or not
    labels = sorted({k.split("/")[2] for k in _keys(s3, "data/labels/")})
    assert labels == [f"date={_d(d)}" for d in _days(7)]

    # -- train (artifacts on S3), gate, promote -------------------------------------------------
    t = time.perf_counter()
    trained = train_model(cfg, TRAIN_END, reason="bootstrap")
    timings["train"] = time.perf_counter() - t
    decision = registry.evaluate_challenger(cfg, trained.model_version)
    assert decision.promote, decision.reason
    registry.promote(cfg, trained.model_version, decision.reason, "test", decision)
    assert registry.aliases(cfg) == {"champion": trained.model_version}

    import mlflow

    run = mlflow.MlflowClient(tracking_uri=postgres_db).get_run(trained.run_id)
    assert run.info.artifact_uri.startswith(f"s3://{BUCKET}/mlflow/")
    artifacts = _keys(s3, "mlflow/")
    run_prefix = run.info.artifact_uri.removeprefix(f"s3://{BUCKET}/")
    for name in (
        "reference/reference_profile.json",
        "holdout/holdout.json",
        "plots/roc_curve.png",
        "plots/calibration.png",
    ):
        assert f"{run_prefix}/{name}" in artifacts, artifacts
    # the model files themselves (MLflow 3 keeps them with the logged model)
    model_files = [k for k in artifacts if k.endswith("/MLmodel")]
    assert len(model_files) == 1
    model_dir = model_files[0].removesuffix("MLmodel")
    assert {model_dir + "model.skops", model_dir + "requirements.txt"} <= set(artifacts)
    profile = json.loads(_get(s3, f"{run_prefix}/reference/reference_profile.json"))
    assert profile == json.loads(registry.load_reference_profile(cfg).to_json())
    decisions = _keys(s3, f"data/registry/decisions/{cfg.model_name}/")
    assert decisions == [
        f"data/registry/decisions/{cfg.model_name}/v1-{a}.json" for a in ("gate", "promote")
    ]

    # -- score with the model loaded back from S3 -------------------------------------------------
    t = time.perf_counter()
    for day in SCORED:
        res = score_partition(cfg, day, chunk_rows=400)
        assert res.model_version == trained.model_version and res.run_id == trained.run_id
    timings["score"] = time.perf_counter() - t
    for day in SCORED:
        key = f"data/predictions/date={_d(day)}/part-0.parquet"
        preds = pd.read_parquet(io.BytesIO(_get(s3, key)))
        validated = pd.read_parquet(
            io.BytesIO(_get(s3, f"data/validated/date={_d(day)}/part-0.parquet"))
        )
        assert preds[cfg.dataset.id_column].tolist() == validated[cfg.dataset.id_column].tolist()
        assert set(preds["model_version"]) == {trained.model_version}
        assert preds["score"].between(0, 1).all()
        assert f"data/predictions/date={_d(day)}/_SUCCESS" in _keys(s3, "data/predictions/")

    # -- the daily drift check writes its report to S3 ----------------------------------------------
    t = time.perf_counter()
    outcome = run_daily_check(cfg, CHECK_DAY)
    timings["drift_check"] = time.perf_counter() - t
    prefix = f"data/monitoring/drift/date={_d(CHECK_DAY)}/"
    assert outcome.report_uri == f"s3://{BUCKET}/{prefix.rstrip('/')}"
    assert _keys(s3, prefix) == [prefix + n for n in ("_SUCCESS", "report.html", "report.json")]
    report = json.loads(_get(s3, prefix + "report.json"))
    assert report["champion_version"] == trained.model_version
    assert report["drift_days_used"] == [_d(d) for d in SCORED]
    assert report["decision"]["retrain"] is False  # stationary data, just trained
    assert outcome.status == report["drift"]["status"] and outcome.status != "insufficient_data"
    # Point in time: the labels of 01-06 and 01-07 land on 01-09 and 01-10 (three days late), after
    # the check of 01-08, so that check measures no live performance although they are in storage.
    assert report["performance"]["days_used"] == []
    assert report["as_of"]["labels_landed_by"] == _d(CHECK_DAY)
    html = _get(s3, prefix + "report.html").decode()
    assert "<html" in html.lower() and "data:image/png;base64," in html
    # The check of 01-10 has them: live performance on the scored days whose labels had landed.
    later = CHECK_DAY + timedelta(days=2)
    run_daily_check(cfg, later)
    report = json.loads(_get(s3, f"data/monitoring/drift/date={_d(later)}/report.json"))
    assert report["performance"]["days_used"] == ["2026-01-06", "2026-01-07"]

    # nothing was written to local disk in place of the bucket
    assert not (tmp_path / "data").exists()
    print("s3 pipeline timings:", {k: round(v, 1) for k, v in timings.items()})


def _days(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]
