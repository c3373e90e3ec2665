"""Settings come from the environment; a malformed value stops start-up naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env as kenv

ROOT = Path(__file__).resolve().parents[2]


def start_up(tmp_path, **variables) -> subprocess.CompletedProcess:
    """Run ``manage.py check`` in a fresh process with these variables."""
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    environment.update({"KIROKU_VAR_DIR": str(tmp_path), **variables})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must start with postgres:// or sqlite:///"),
        ("DATABASE_URL", "postgres://host:5432", "DATABASE_URL must name a database"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must start with redis:// or rediss://"),
        ("KIROKU_HEARTBEAT_TIMEOUT", "five", "KIROKU_HEARTBEAT_TIMEOUT must be an integer"),
        ("KIROKU_HEARTBEAT_TIMEOUT", "3", "KIROKU_HEARTBEAT_TIMEOUT must be at least 10"),
        ("KIROKU_DEBUG", "maybe", "KIROKU_DEBUG must be true or false"),
        ("KIROKU_ARTIFACT_STORE", "gs://b/p", "KIROKU_ARTIFACT_STORE must start with s3://"),
        ("KIROKU_ARTIFACT_DOWNLOAD_EXPIRY", "999999", "must be at most 604800, got 999999"),
    ],
)
def test_malformed_variable_stops_start_up_naming_it(tmp_path, name, value, message):
    result = start_up(tmp_path, **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_embedded_default_starts_with_nothing_set(tmp_path):
    result = start_up(tmp_path)
    assert (result.returncode, result.stdout.strip()) == (
        0,
        "System check identified no issues (0 silenced).",
    )
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_url_is_parsed(monkeypatch, tmp_path):
    monkeypatch.setenv("X_DB", "postgres://kiroku:pw@db.internal:6543/tracker")
    config = kenv.env_database("X_DB", tmp_path / "unused.sqlite3")
    assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        6543,
        "tracker",
        "kiroku",
    )


def test_sqlite_url_is_parsed(monkeypatch, tmp_path):
    monkeypatch.setenv("X_DB", f"sqlite:///{tmp_path}/k.db")
    config = kenv.env_database("X_DB", tmp_path / "unused.sqlite3")
    assert (config["ENGINE"], config["NAME"]) == ("django.db.backends.sqlite3", f"{tmp_path}/k.db")


def test_unset_database_url_means_embedded_sqlite(monkeypatch, tmp_path):
    monkeypatch.delenv("X_DB", raising=False)
    config = kenv.env_database("X_DB", tmp_path / "var" / "k.sqlite3")
    assert config["NAME"] == str(tmp_path / "var" / "k.sqlite3")
    assert (tmp_path / "var").is_dir()


def test_embedded_sqlite_opens_in_wal_waits_for_the_lock_and_writes_immediately(
    monkeypatch, tmp_path, django_db_blocker
):
    from django.db.utils import ConnectionHandler

    monkeypatch.delenv("X_DB", raising=False)
    config = kenv.env_database("X_DB", tmp_path / "var" / "k.sqlite3")
    database = ConnectionHandler({"default": config})["default"]  # not the tests' database
    pragmas = {}
    with django_db_blocker.unblock():
        try:
            with database.cursor() as cursor:
                for name in ("journal_mode", "synchronous", "busy_timeout"):
                    cursor.execute(f"PRAGMA {name}")
                    pragmas[name] = cursor.fetchone()[0]
        finally:
            database.close()
    # synchronous 1 is NORMAL; the busy timeout is in milliseconds.
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 20000}
    assert database.transaction_mode == "IMMEDIATE"


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("X_HOSTS", " a.example , b.example,,")
    assert kenv.env_list("X_HOSTS", []) == ["a.example", "b.example"]


def test_env_int_names_the_variable(monkeypatch):
    monkeypatch.setenv("X_N", "1.5")
    with pytest.raises(ImproperlyConfigured, match=r"X_N must be an integer, got '1\.5'"):
        kenv.env_int("X_N", 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "s3://kiroku-artifacts/prod/team-a",
            {"backend": "s3", "bucket": "kiroku-artifacts", "prefix": "prod/team-a"},
        ),
        ("s3://kiroku-artifacts", {"backend": "s3", "bucket": "kiroku-artifacts", "prefix": ""}),
        ("file:///srv/kiroku", {"backend": "local", "root": Path("/srv/kiroku")}),
    ],
)
def test_the_artifact_store_is_parsed(monkeypatch, value, expected):
    monkeypatch.setenv("KIROKU_ARTIFACT_STORE", value)
    assert kenv.env_artifact_store("KIROKU_ARTIFACT_STORE", Path("/default")) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("s3://Bad_Bucket/x", "KIROKU_ARTIFACT_STORE must name an S3 bucket"),
        ("s3://kiroku/../x", "KIROKU_ARTIFACT_STORE prefix may hold letters"),
        ("file://relative/x", "KIROKU_ARTIFACT_STORE for a local folder must look like"),
    ],
)
def test_a_malformed_artifact_store_names_the_variable(monkeypatch, value, message):
    monkeypatch.setenv("KIROKU_ARTIFACT_STORE", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        kenv.env_artifact_store("KIROKU_ARTIFACT_STORE", Path("/default"))
