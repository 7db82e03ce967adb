"""Label files with bad names, through the library and through `driftloop ingest` as a process."""

from __future__ import annotations

import json
from datetime import date, timedelta

from driftloop.core.storage import LABELS
from driftloop.data import synth
from driftloop.data.ingest import ingest_labels, ingest_partition

DAY = date(2026, 1, 10)


def test_badly_named_label_files_are_quarantined_one_by_one_and_the_others_ingested(
    cfg, store
) -> None:
    import subprocess
    import sys

    from driftloop.data.ingest import BAD_LABEL_NAMES_QUARANTINE

    start = DAY - timedelta(days=cfg.dataset.label_delay_days)
    synth.write_days(
        store, cfg, start, cfg.dataset.label_delay_days + 1, synth.Scenario(), rows=300
    )
    landing = f"landing/{DAY.isoformat()}"
    good = store.read_bytes(f"{landing}/labels_{start.isoformat()}.csv")
    # Sorted before the valid file (which used to be skipped after the crash), and after it.
    bad = {"labels_2025-13-45.csv": b"id,churned\nx,1\n", "labels_2026-13-45.csv": b"a,b\n"}
    for name, data in bad.items():
        store.write_bytes(f"{landing}/{name}", data)
    store.write_bytes(f"{landing}/labels-final.csv", b"id,churned\n")

    result = ingest_partition(cfg, DAY)

    assert result.status == "validated" and result.labels_ingested == [start.isoformat()]
    assert store.read_table(LABELS, start).shape[0] > 0
    refused = {lr.label_date: lr for lr in result.labels if lr.status == "quarantined"}
    assert set(refused) == {*bad, "labels-final.csv"}
    assert "no valid label date" in refused["labels_2026-13-45.csv"].message
    assert "is not labels_<YYYY-MM-DD>.csv" in refused["labels-final.csv"].message
    prefix = f"{BAD_LABEL_NAMES_QUARANTINE}/date={DAY.isoformat()}"
    for name, data in bad.items():  # every original kept, byte for byte
        assert store.read_bytes(f"{prefix}/{name}") == data
    reason = json.loads(store.read_bytes(f"{prefix}/reason.json"))
    assert set(reason["files"]) == set(refused)
    assert store.read_bytes(f"{landing}/labels_{start.isoformat()}.csv") == good

    # The CLI: a one-line note per refused file, exit 0 (the features were validated), no traceback.
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop.cli.main", "ingest", "--date", DAY.isoformat()],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("rejected: the name") == 3
    assert json.loads(proc.stdout)["labels_ingested"] == [start.isoformat()]

    # Redelivered with the names fixed: the earlier verdict goes away.
    for name in [*bad, "labels-final.csv"]:
        store.delete_prefix(f"{landing}/{name}")
    ingest_labels(cfg, DAY)
    assert not store.exists(f"{prefix}/reason.json")
