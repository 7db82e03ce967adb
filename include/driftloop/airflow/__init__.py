"""The only code that imports Airflow; the DAG files in dags/ wire what is here.

- ``factory``: the DAG factory (one set of DAGs per pipeline config) and a task's pipeline
- ``assets``: each pipeline's assets (events carry the partition in their extra)
- ``params``: default arguments, start date, trigger-form params, the hyperparameter overrides
- ``partition``: the run's :class:`~driftloop.core.partition.Partition` from its context
- ``sensors``: deferrable sensors waiting for a partition's keys, and their trigger
- ``pods``: execution mode, KubernetesPodOperator tasks and their arguments
- ``approval``: the human approval step of ``train``
- ``tasks``: the task bodies, one module per DAG
- ``docs``: the DAGs' ``doc_md``
- ``links``: links tasks publish; ``plugin`` and ``web``: what the Airflow plugin serves;
  ``offline``: the Data Docs pages' scripts and styles, vendored from npm and served locally
- ``driver``: run the DAGs in-process (``dag.test()``) for the demo
"""
