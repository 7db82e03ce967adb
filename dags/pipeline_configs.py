"""Broken pipeline configs, reported as this file's import error in Airflow (it holds no DAG).

The DAG files skip a config that does not load (or clashes with another); here its error names the
config file and the key. Airflow marks every DAG of a file with an import error stale, so the error
is raised from this DAG-less file, never from a file whose DAGs must keep running.
"""

from __future__ import annotations

from driftloop.airflow.factory import check_configs

check_configs()
