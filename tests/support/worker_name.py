"""``[core] hostname_callable`` of the Celery service tier's workers (see celery_stack.py).

In compose every worker is a container with a hostname of its own, which Airflow records on each
task instance it runs; natively all workers share one machine, so each names itself from its
environment instead. Imported inside task processes: it must import nothing of the tests (the
tests' conftest rewrites the environment on import).
"""

from __future__ import annotations

import os

WORKER_NAME_ENV = "DRIFTLOOP_TEST_WORKER_NAME"


def worker_hostname() -> str:
    return os.environ[WORKER_NAME_ENV]
