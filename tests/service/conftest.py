"""Service tier: real Postgres on this machine and an S3 endpoint (moto's server) on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from driftloop.local.stack import free_port
from tests.support.services import PG_HOST, PG_PORT, PG_USER, require_tcp


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """A fresh, uniquely named database on the real server; dropped afterwards. Yields its SQLAlchemy URL."""
    require_tcp(PG_HOST, PG_PORT, "PostgreSQL")
    import psycopg2

    name = f"driftloop_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on a free loopback port (the stand-in for MinIO / S3), with a bucket."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": url,
        "MLFLOW_S3_ENDPOINT_URL": url,
    }.items():
        monkeypatch.setenv(k, v)
    import boto3

    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="driftloop")
    try:
        yield url
    finally:
        # moto keeps its state per process, not per server: wipe it so tests stay independent.
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str):
    """A boto3 client on the S3 stand-in, to look at objects independently of the storage layer."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)
