"""The machine's services the service tiers use (PostgreSQL, Redis), and the rule for a missing one.

Endpoints come from ``DRIFTLOOP_TEST_*`` variables (defaults: this machine's loopback). Everything a
test creates on them has a name or a database of its own, so runs side by side do not meet.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any

import pytest

PG_HOST = os.environ.get("DRIFTLOOP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DRIFTLOOP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DRIFTLOOP_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("DRIFTLOOP_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("DRIFTLOOP_TEST_REDIS_PORT", "6379"))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tcp(host: str, port: int, what: str) -> None:
    """Skip (locally) or fail (under CI=true) when a service the test needs is not reachable."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as err:
        msg = f"{what} not reachable at {host}:{port} ({err}); start it or set the env override"
        if IN_CI:
            pytest.fail(f"CI=true: a service tier may not be skipped: {msg}")
        pytest.skip(msg)


def pg_query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of one query on the database behind a ``postgres_db`` URL (a short-lived connection)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def pg_admin(sql: str) -> None:
    """One statement on the server's ``postgres`` database, outside a transaction (CREATE/DROP)."""
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def redis_client(db: int) -> Any:
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)


CLAIM_KEY = "driftloop-test-stack"


def claim_redis_db(run_id: str) -> int:
    """An empty Redis DB (1..15) taken for this run: a marker key set only where none exists.

    Release it with ``redis_client(db).flushdb()``.
    """
    candidates = list(range(1, 16))
    secrets.SystemRandom().shuffle(candidates)
    for db in candidates:
        r = redis_client(db)
        if r.dbsize() == 0 and r.set(CLAIM_KEY, run_id, nx=True):
            if r.dbsize() == 1:
                return db
            r.delete(CLAIM_KEY)  # someone else started using it at the same moment
    raise RuntimeError("no empty Redis DB among 1..15 for this run")
