"""The only code that imports Airflow: assets, params, partition resolution, sensors, pods, pages."""
