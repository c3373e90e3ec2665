"""/healthz and /readyz: public, answered whatever the Host and scheme, and /readyz
names the dependency that does not answer without saying anything secret."""

from __future__ import annotations

import socket

import pytest
from django.db import connection, connections

READY = {"database": "ok", "redis": "skipped", "artifact_store": "ok"}


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def no_redis(settings):
    settings.REDIS_URL = None


def test_healthz_answers_ok_without_the_database(client):
    # No django_db mark: any query would fail the request.
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response["Cache-Control"] == "no-store"


def test_head_healthz_answers_without_a_body(client):
    response = client.head("/healthz")

    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_take_only_get_and_head(client, path):
    response = client.post(path)

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_answered_for_any_host_over_plain_http(client, settings, no_redis, path):
    settings.SECURE_SSL_REDIRECT = True
    # The same request to another path is refused (unknown Host) before any redirect.
    assert client.get("/api/v1/me", HTTP_HOST="10.0.0.7:8000").status_code == 400

    response = client.get(path, HTTP_HOST="10.0.0.7:8000")

    assert response.status_code == 200


@pytest.mark.django_db
def test_readyz_is_ready_with_the_embedded_defaults(client, no_redis):
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready", "checks": READY})
    assert response["Cache-Control"] == "no-store"


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_pings_the_configured_redis(client):
    response = client.get("/readyz")

    assert (response.status_code, response.json()["checks"]["redis"]) == (200, "ok")


@pytest.mark.django_db
def test_readyz_names_redis_when_it_does_not_answer_without_its_url(client, settings):
    settings.REDIS_URL = f"redis://:hunter2-redis-secret@127.0.0.1:{closed_port()}/0"

    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {
            "status": "unavailable",
            "checks": {**READY, "redis": "error: ConnectionError"},
        },
    )


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_does_not_answer(client, no_redis, monkeypatch, tmp_path):
    broken = dict(connections.settings["default"])
    if connection.vendor == "postgresql":
        broken["PORT"] = str(closed_port())
    else:
        broken["NAME"] = str(tmp_path / "no-such-folder" / "kiroku.sqlite3")
    # The probe opens a connection of its own from these settings; the test's stays.
    monkeypatch.setitem(connections.settings, "default", broken)

    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "checks": {**READY, "database": "error: OperationalError"}},
    )


@pytest.mark.django_db
def test_readyz_names_the_artifact_store_when_its_folder_cannot_be_written(
    client, settings, no_redis, tmp_path
):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    settings.KIROKU_ARTIFACT_STORE = {"backend": "local", "root": not_a_folder / "artifacts"}

    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "checks": {**READY, "artifact_store": "folder not writable"}},
    )


@pytest.mark.django_db
def test_readyz_creates_a_missing_artifact_folder_as_the_store_would(
    client, settings, no_redis, tmp_path
):
    settings.KIROKU_ARTIFACT_STORE = {"backend": "local", "root": tmp_path / "new" / "artifacts"}

    response = client.get("/readyz")

    assert response.status_code == 200
    assert list((tmp_path / "new" / "artifacts").iterdir()) == []  # its probe file is gone


@pytest.mark.django_db
def test_readyz_reaches_the_s3_bucket(client, s3_store, no_redis):
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready", "checks": READY})


@pytest.mark.django_db
def test_readyz_names_the_artifact_store_when_its_bucket_is_missing(
    client, s3_store, settings, no_redis
):
    settings.KIROKU_ARTIFACT_STORE = {**settings.KIROKU_ARTIFACT_STORE, "bucket": "kiroku-gone"}

    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "checks": {**READY, "artifact_store": "bucket not found"}},
    )
