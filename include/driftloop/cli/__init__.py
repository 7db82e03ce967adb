"""The ``driftloop`` command line: the same stage entry points as the DAGs and the pods."""
