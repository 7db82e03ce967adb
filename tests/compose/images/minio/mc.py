#!/usr/bin/env python3
"""The MinIO client commands docker-compose.yaml uses, on boto3: `mc ready ALIAS`,
`mc alias set ALIAS URL USER PASSWORD`, `mc mb [--ignore-existing] ALIAS/BUCKET...`."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

CONFIG = Path(os.environ.get("MC_CONFIG_DIR", Path.home() / ".mc")) / "aliases.json"
DEFAULTS = {"local": {"url": "http://localhost:9000", "user": "", "password": ""}}


def aliases() -> dict:
    return {**DEFAULTS, **(json.loads(CONFIG.read_text()) if CONFIG.exists() else {})}


def main(argv: list[str]) -> int:
    if argv[:1] == ["ready"]:
        alias = aliases()[argv[1]]
        try:
            urllib.request.urlopen(alias["url"] + "/", timeout=5)
        except OSError as err:
            print(f"mc ready: {err}", file=sys.stderr)
            return 1
        if alias["url"].startswith("http://localhost") and not Path("/tmp/s3-ready").exists():
            print("mc ready: state not loaded yet", file=sys.stderr)
            return 1
        return 0
    if argv[:2] == ["alias", "set"]:
        name, url, user, password = argv[2:6]
        CONFIG.parent.mkdir(parents=True, exist_ok=True)
        CONFIG.write_text(
            json.dumps({**aliases(), name: {"url": url, "user": user, "password": password}})
        )
        print(f"Added `{name}` successfully.")
        return 0
    if argv[:1] == ["mb"]:
        import boto3

        ignore = "--ignore-existing" in argv
        for target in [a for a in argv[1:] if not a.startswith("-")]:
            name, bucket = target.split("/", 1)
            alias = aliases()[name]
            s3 = boto3.client(
                "s3",
                endpoint_url=alias["url"],
                aws_access_key_id=alias["user"],
                aws_secret_access_key=alias["password"],
                region_name="us-east-1",
            )
            existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if bucket in existing:
                if not ignore:
                    print(f"mc: bucket {bucket} exists", file=sys.stderr)
                    return 1
                print(f"Bucket `{target}` already exists.")
                continue
            s3.create_bucket(Bucket=bucket)
            print(f"Bucket created successfully `{target}`.")
        return 0
    print(f"stand-in mc: unsupported command {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
