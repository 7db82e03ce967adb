"""driftloop: continuous training for tabular models, orchestrated by Apache Airflow 3.

The library is importable and testable without a running Airflow; the DAGs in dags/ only wire its
stages together, and the `driftloop` CLI runs the same stages (that is what Kubernetes pods run).
"""

__version__ = "0.1.0"
