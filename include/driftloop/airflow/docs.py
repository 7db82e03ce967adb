"""The DAGs' documentation (``doc_md``), shown on each DAG's page in the Airflow UI."""

from __future__ import annotations

__all__ = ["DRIFT_CHECK", "INGEST", "PROMOTE", "SCORE", "TRAIN"]

INGEST = """
### ingest — land, type, validate

One run per logical day. `wait_for_landing` defers (no worker slot held) until
`landing/<day>/features.csv` or `features.parquet` exists in the storage root (both: quarantined);
`ingest_and_validate` parses it against the
dataset schema into `raw/date=<day>/`, validates it with the Great Expectations suite and publishes
`validated/date=<day>/` (asset event with `{"partition", "rows", "uri"}` in its extra), or writes
`quarantine/date=<day>/` (original bytes, `reason.json`, GX result) and **fails** with the reason.
Labels delivered the same day go to `labels/date=<label day>/`.

Trigger with `{"date": "YYYY-MM-DD"}` to (re)ingest a given day; reruns overwrite the partition.

With `arrival.mode: queue` the DAG has no schedule of its own: it runs when the `landed` asset gets
an event (a message on the arrival queue, seen by the asset's watcher, or a REST call), and
`landed_partitions` ingests every day the events name, one mapped `ingest_and_validate` each.
"""

SCORE = """
### score — batch predictions of the champion for each newly validated partition

Asset-driven: runs when `validated` gets an event; the partition comes from `conf["date"]` of a
manual run, else from the `partition` extra of the triggering asset events (a run that batches several
events scores every partition named), else the logical date.

**resolve_champion** turns `@champion` into a concrete version once; the version goes through XCom,
so retries and reruns score with the same model (and rewrite identical bytes). **score_partition**
writes `predictions/date=<day>/part-0.parquet` and emits a `predictions` asset event with
`{"partition": day, "model_version": v}`.

No champion yet (the first days, before enough labels exist to train): resolve_champion records
`monitoring/scoring/date=<day>/` ("nothing to score with", so the day's drift check goes ahead and
can train the first model) and is *skipped* — a friendly no-op rather than a red run, since it is
the expected state of a fresh deployment. Scoring errors still fail the run.

**Backlog**: once a champion exists, every run also scores the validated days whose scoring found
no champion (those ingested before the first champion), once each, flagged `backlog` in the mapped
task's target and in `monitoring/scoring/date=<day>/status.json`. The DAG is scheduled on
`validated | model`, so a promotion starts a run that scores the backlog right away. A day
validated a moment before is left to its own run. A manual run with `{"backlog": true}` scores
every validated day without predictions (days ingested while this DAG was paused, say).

Execution: with `execution.mode: kubernetes` in the pipeline config (or
`DRIFTLOOP__EXECUTION__MODE=kubernetes` where the DAG is parsed), **score_partition** is a mapped
KubernetesPodOperator: one pod per partition, running
`driftloop score --date <day> --model-version <v>` in the project's image (with
`--shadow-version <c>` while a challenger is in shadow; the same mapping over
resolve_champion's list as in-process, so a batched run scores each day in its own pod and one
failed day retries alone). The pod's XCom is the same result the in-process task returns, and the
worker sets the `predictions` asset event from it. resolve_champion stays in-process: it is a
registry lookup, not a heavy step.
"""

DRIFT_CHECK = """
### drift_check — the daily check of the champion, and the retrain policy

One run per day, in order (`catchup`, one active run at a time), so every landed day is checked
exactly once, a backlog included. **wait_for_scoring** defers (no worker slot held) until the day
is through ingest and scoring: predictions written, the day quarantined, or no champion to score
with. Then **check** compares the drift window (the last `drift.window_days` validated days) with
the champion's reference profile — per feature PSI, Jensen-Shannon and Wasserstein distance, plus
the score distribution — and, once labels have arrived, the champion's live metrics with its
holdout metrics. It writes `monitoring/drift/date=<day>/report.{json,html}` and decides:

- no champion yet (a fresh deployment): train the first model once
  `retrain.bootstrap_labelled_days` labelled days exist (*bootstrap*);
- retrain when drift or decay crosses the thresholds of the config, unless a `train` run is queued
  or running, or one trained within the cooldown;
- feature drift without a performance verdict waits until labels of the drifted data exist, then
  retrains on data since the drift began.

**trigger_train** starts `train` (run id `retrain__<day>`: a rerun of the day never starts a second
training) with the reason and the report location in its conf; it is skipped when the policy says
no. The decision and its reason are in the report and the task log either way. Trigger with
`{"date": "YYYY-MM-DD"}` to check one day again.
"""

TRAIN = """
### train — fit a challenger, gate it against the champion, promote (automatically or on approval)

Triggered manually (the trigger form works with its defaults), by the drift check's retrain policy,
or by the demo. Params (all optional; unset means "as configured in the pipeline config"):
`date` (last day of the training window; unset: **the newest day that has labels**), `since` (first
day of the window, e.g. the drift onset; wins over `window_days`), `window_days`, `reason`,
`report_uri` (the drift report that triggered it), `algorithm`, `hyperparameters` (JSON object),
`max_depth`, `learning_rate`, `min_improvement`, `auto_promote` (`as_configured` | `on` | `off`).
The form checks types and dates before the run starts; **train_model** checks the rest (algorithm
and hyperparameter names and values, whether the window has labelled data) before it reads any data,
and fails at once with a one-line message naming the param.

Flow: **train_model** (MLflow run, new registered version @challenger) → **gate** (champion re-scored
on the challenger's holdout; decision recorded on the version and in storage) → **route**: gate
rejected → nothing else; auto-promote → **promote_model**; otherwise **approve_promotion** waits for
a person (Airflow UI, *Required actions*) and only "Approve" leads to **promote_model**, which moves
`@champion` (old champion → `@previous_champion`) and emits the model asset event.
**record_outcome** always runs last and records a human rejection.

Execution: with `execution.mode: kubernetes` in the pipeline config (or
`DRIFTLOOP__EXECUTION__MODE=kubernetes` where the DAG is parsed), **train_model** is a
KubernetesPodOperator running `driftloop train --train-only` in the project's image, with the run's
params as its arguments; its XCom is the same training result the in-process task returns, so
the other steps are identical in both modes. A window with too little labelled data exits with code 4
(in-process it fails without retry; as a pod it is retried once).
"""

PROMOTE = """
### promote — manual promotion or rollback of the registered model, with an audit record

`action=promote` makes `version` the champion (the current one becomes `@previous_champion`);
`action=rollback` gives `@champion` back to `@previous_champion` (the demoted version becomes the
previous champion, so a second rollback undoes the first) and needs no version. No gate is applied:
this is the human override. Both write tags and a description on the versions and a record under
`registry/decisions/` in storage, naming the reason and who triggered the run.

The form checks the action and the shape of the version; **apply** checks the rest first (promote
without a version, a version that does not exist, nothing to roll back to) and fails at once with a
one-line message naming the param.

`shadow_win` (set by `drift_check`'s `request_approval` for a version that won in shadow with
`gate.auto_promote` off): **approve_shadow_win** asks the approvers first, with the per-partition
shadow evidence and the offline gate's figures. Approve promotes the version out of its shadow (the
run fails if the champion moved since); Reject or no answer ends its shadow, with the reason.
"""
