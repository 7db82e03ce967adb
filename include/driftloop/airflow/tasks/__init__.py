"""Task bodies of the DAGs in dags/, one module per DAG; the DAG files wire them."""
