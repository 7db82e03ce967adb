"""A toy history (a config and a source file of a few rows a day) for the land / replay tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

TOY_CONFIG = {
    "name": "toy",
    "dataset": {
        "id_column": "rid",
        "timestamp_column": "ts",
        "target": "y",
        "label_delay_days": 2,
        "features": [
            {"name": "x", "type": "numeric"},
            {"name": "kind", "type": "categorical", "categories": ["a", "b"]},
        ],
    },
    "storage": {"root": "/unused"},
    "validation": {"suite": "toy_batch", "min_rows": 1},
}


def history_source(tmp_path: Path, days: list[str], per_day: int = 3, suffix: str = ".csv") -> Path:
    rows = []
    for d in days:
        for i in range(per_day):
            rows.append(
                {
                    "ts": f"{d}T0{i}:30:00Z",
                    "x": float(i),
                    "kind": "ab"[i % 2],
                    "y": i % 2,
                    "extra": 1,
                }
            )
    frame = pd.DataFrame(rows).sample(frac=1, random_state=0)  # out of order on purpose
    path = tmp_path / f"history{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    return path
