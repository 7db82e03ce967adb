"""Shared test harnesses and helpers: imported by the tiers' tests, never collected as tests.

Nothing here may import a conftest (conftest.py files set up the environment on import) or, at
module level, Airflow: ``worker_name`` is imported inside Airflow's task processes.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
