#!/bin/sh
# `minio server DIR [--console-address ADDR]`: moto's S3 server on :9000 with its state in DIR.
set -eu
[ "${1:-}" = server ] || { echo "stand-in minio: only 'server DIR' is supported" >&2; exit 2; }
exec python3 /opt/standin/s3server.py "${2:-/data}"
