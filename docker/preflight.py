"""Refuse to start the stack with missing, placeholder or unusable secrets.

Run by the `preflight` service of docker-compose.yaml before anything else starts (every other
service waits for it to complete successfully). Stdlib only, so it runs in any Python image.
Exit 0 when every secret is usable; otherwise print one line per problem and exit 1.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sys

# The secrets the stack needs, all from .env (see .env.example).
SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_FERNET_KEY",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
)
# .env.example marks every value it ships with this prefix.
PLACEHOLDER = "change-me"
MIN_LENGTH = {
    "POSTGRES_PASSWORD": 12,
    "AIRFLOW_ADMIN_PASSWORD": 12,
    "AIRFLOW_JWT_SECRET": 32,
    "MINIO_ROOT_USER": 3,  # MinIO's own minimum
    "MINIO_ROOT_PASSWORD": 12,  # MinIO requires 8
}
# POSTGRES_PASSWORD goes into URLs (metadata DB, result backend, MLflow store) unescaped, and
# through Airflow's config parser, where '%' is interpolation: allow only URL-safe characters.
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def problems(env: dict[str, str]) -> list[str]:
    """Every reason the given environment cannot start the stack (empty when it can)."""
    found = []
    for name in SECRETS:
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is not set: copy .env.example to .env and fill it in")
            continue
        if PLACEHOLDER in value.lower():
            found.append(f"{name} still has the placeholder value from .env.example")
            continue
        if len(value) < MIN_LENGTH.get(name, 0):
            found.append(f"{name} is too short (at least {MIN_LENGTH[name]} characters)")
    pw = env.get("POSTGRES_PASSWORD", "")
    if pw and PLACEHOLDER not in pw.lower() and not _URL_SAFE.match(pw):
        found.append("POSTGRES_PASSWORD may only contain A-Z a-z 0-9 . _ ~ - (it is used in URLs)")
    key = env.get("AIRFLOW_FERNET_KEY", "")
    if key and PLACEHOLDER not in key.lower() and not _is_fernet_key(key):
        found.append("AIRFLOW_FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)")
    return found


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def main() -> int:
    found = problems(dict(os.environ))
    for line in found:
        print(f"preflight: {line}", file=sys.stderr)
    if found:
        print("preflight: refusing to start; see .env.example", file=sys.stderr)
        return 1
    print("preflight: secrets present and not placeholders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
