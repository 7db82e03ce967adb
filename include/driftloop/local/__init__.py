"""The local stack: Airflow + MLflow started on this machine, and the environment they share."""
