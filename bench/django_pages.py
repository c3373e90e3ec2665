"""What the in-process page benchmarks (bench.portal, bench.audit) share: a fresh
PostgreSQL database, Django set up on it, and timed GETs through the test client."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import percentile

WARMUP = 3


def recreate_database(database_url: str) -> None:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import django

    django.setup()


def timed(client, url: str, repeat: int, check) -> dict[str, Any]:
    """``repeat`` timed GETs of url after WARMUP untimed ones; check(response) on each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples = []
    for i in range(WARMUP + repeat):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
        check(response)
        if i >= WARMUP:
            samples.append(elapsed * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return {
        "repeat": repeat,
        "p50_ms": round(percentile(samples, 50), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "mean_ms": round(sum(samples) / len(samples), 1),
        "min_ms": round(min(samples), 1),
        "queries": len(queries),
        "bytes": len(response.content),
    }
