"""`driftloop land` as a process: a history cut into the landing layout, CSV or Parquet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.history import TOY_CONFIG, history_source


def test_land_command_writes_the_layout(tmp_path: Path) -> None:
    cfg_path = tmp_path / "toy.yaml"
    data = json.loads(json.dumps(TOY_CONFIG))
    data["storage"]["root"] = str(tmp_path / "data")
    cfg_path.write_text(json.dumps(data))
    source = history_source(tmp_path, ["2024-03-01", "2024-03-02"])
    command = [
        sys.executable,
        "-m",
        "driftloop.cli.main",
        "land",
        "--config",
        str(cfg_path),
        "--source",
        str(source),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["partitions"] == 2 and out["rows"] == 6 and out["ignored_columns"] == ["extra"]
    assert (tmp_path / "data/landing/2024-03-02/features.csv").exists()
    assert (tmp_path / "data/landing/2024-03-04/labels_2024-03-02.csv").exists()

    done = subprocess.run(
        [*command, "--format", "parquet"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == "parquet"
    assert (tmp_path / "data/landing/2024-03-02/features.parquet").exists()
    assert (tmp_path / "data/landing/2024-03-04/labels_2024-03-02.parquet").exists()
