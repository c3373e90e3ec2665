"""Helpers for tests that hold a row lock on PostgreSQL and watch other sessions
queue behind it."""

from __future__ import annotations

import time

from django.db import connection


def pg_test_dsn() -> str:
    """A libpq DSN for the test database (not the configured one)."""
    db = connection.settings_dict
    return f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"


def waiting_backends(conn) -> int:
    """How many sessions of the test database wait on a lock now."""
    # pg_stat_activity is a snapshot taken once per transaction; clear it to see now.
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
        (connection.settings_dict["NAME"],),
    ).fetchone()
    return row[0]


def wait_for(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
