# Every stage without Airflow (tests/unit/test_docs.py parses each line with the real parser).
driftloop synth --start 2026-01-01 --days 7 --scenario data_quality --seed 1
driftloop ingest --date 2026-01-01      # exit 0 validated, 1 quarantined (reason on stderr)
driftloop train --date 2026-01-10
driftloop score --date 2026-01-11
driftloop score --backlog               # validated days without predictions, once each
driftloop drift --date 2026-01-11
driftloop promote --version 3 --reason "approved offline"   # a human override
driftloop rollback --reason "v3 misbehaves"            # back to @previous_champion
driftloop demo --days 60 --scenario covariate_shift --seed 7 --out demo-out
driftloop land --config my.yaml --source history.csv           # a history into landing/
driftloop replay --config my.yaml --source history.csv --out replay-out
driftloop pipelines --configs configs  # every pipeline of a folder, its DAGs; exit 2 on errors
