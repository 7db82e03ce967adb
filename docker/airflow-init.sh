#!/bin/sh
# One-shot init of the compose stack: migrate Airflow's metadata DB, then write the
# SimpleAuthManager passwords file so the `admin` login uses AIRFLOW_ADMIN_PASSWORD from .env
# (without it, Airflow would generate a random password and print it in the api-server's log).
set -eu
airflow db migrate
passwords_file="$(airflow config get-value core simple_auth_manager_passwords_file)"
mkdir -p "$(dirname "$passwords_file")"
umask 077
python - "$passwords_file" <<'PY'
import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
PY
echo "airflow-init: metadata DB migrated; login admin with AIRFLOW_ADMIN_PASSWORD from .env"
