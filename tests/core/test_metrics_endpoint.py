"""/metrics: served to its token's holders and to loopback callers only (anyone else
gets the 404 of a path that does not exist); request latency by view, ingested points
and delivery outcomes; several processes summed in multiprocess mode.

A Celery worker's own metrics port is tested with a real worker in
tests/integration/test_observability_worker.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apps.core.metrics import gunicorn_child_exit, multiproc_dir_clear
from apps.notifications.models import Delivery
from apps.notifications.services.deliveries import delivery_attempt
from apps.runs.models import Run
from tests.conftest import points
from tests.notifications.fake_slack import CHANNEL, TOKEN
from tests.notifications.helpers import rule, slack_destination

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-0123456789abcdef"
OUTSIDE = "203.0.113.9"  # a documentation address: not loopback


def sample(body: bytes, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text page, or None when absent."""
    for family in text_string_to_metric_families(body.decode()):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


def without_csrf(page: bytes) -> bytes:
    """A page without its CSRF token, which differs from one answer to the next."""
    return re.sub(rb'"X-CSRFToken": "[^"]*"', b"", page)


def scrape(client) -> bytes:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.content


@pytest.fixture
def metrics_token(settings):
    settings.KIROKU_METRICS_TOKEN = METRICS_TOKEN


def test_a_loopback_caller_gets_the_prometheus_text_format(client):
    response = client.get("/metrics")  # the test client's REMOTE_ADDR is 127.0.0.1

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert sample(response.content, "kiroku_ingested_points_total") is not None


@pytest.mark.django_db
def test_an_outsider_gets_the_404_of_a_missing_path(client):
    missing = client.get("/no-such-page", REMOTE_ADDR=OUTSIDE)

    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)

    assert (response.status_code, without_csrf(response.content)) == (
        404,
        without_csrf(missing.content),
    )


@pytest.mark.django_db
def test_a_wrong_token_gets_404(client, metrics_token):
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer metrics-token-wrong-guess"
    )

    assert response.status_code == 404


def test_the_right_token_is_served_from_anywhere(client, metrics_token):
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}"
    )

    assert response.status_code == 200


@pytest.mark.django_db
def test_a_request_forwarded_by_a_local_proxy_is_not_loopback(client):
    response = client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE)

    assert response.status_code == 404


def test_ipv4_mapped_loopback_is_loopback(client):
    response = client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1")

    assert response.status_code == 200


def test_a_served_caller_may_only_read(client):
    response = client.post("/metrics")

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")


@pytest.mark.django_db
def test_latency_is_recorded_by_view(client, as_member):
    before = (
        sample(
            scrape(client),
            "django_http_requests_latency_seconds_by_view_method_count",
            view="me",
            method="GET",
        )
        or 0.0
    )

    assert as_member.get("/api/v1/me").status_code == 200

    after = sample(
        scrape(client),
        "django_http_requests_latency_seconds_by_view_method_count",
        view="me",
        method="GET",
    )
    assert after == before + 1


@pytest.mark.django_db
def test_ingested_points_count_the_points_of_each_applied_batch(
    client, as_member, run_id, django_capture_on_commit_callbacks
):
    before = sample(scrape(client), "kiroku_ingested_points_total")
    body = {"batch_id": uuid.uuid4().hex, "metrics": points("loss", range(7))}

    with django_capture_on_commit_callbacks(execute=True):
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200

    assert sample(scrape(client), "kiroku_ingested_points_total") == before + 7


@pytest.mark.django_db
def test_a_replayed_batch_counts_no_points(
    client, as_member, run_id, django_capture_on_commit_callbacks
):
    body = {"batch_id": uuid.uuid4().hex, "metrics": points("loss", range(7))}
    with django_capture_on_commit_callbacks(execute=True):
        as_member.post(f"/api/v1/runs/{run_id}/log", body)
    before = sample(scrape(client), "kiroku_ingested_points_total")

    with django_capture_on_commit_callbacks(execute=True):
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200

    assert sample(scrape(client), "kiroku_ingested_points_total") == before


def deliveries_counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "kiroku_notification_deliveries_total", {"kind": "slack", "outcome": outcome}
    )
    return value or 0.0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "outcome"),
    [(None, "sent"), ("server_error", "retry"), ("channel_not_found", "failed")],
)
def test_each_delivery_attempt_counts_its_outcome(
    project, run_id, fake_slack, settings, failure, outcome
):
    settings.KIROKU_SLACK_MESSAGES_PER_SECOND = 1000
    destination = slack_destination(project, token=TOKEN, channel=CHANNEL)
    on_finish = rule(project, destination, "run.finished")
    delivery = Delivery.objects.create(
        project=project,
        rule=on_finish,
        destination=destination,
        event_type="run.finished",
        run_id=Run.objects.get(public_id=run_id).pk,
        idempotency_key=f"{on_finish.pk}:1",
    )
    if failure is not None:
        fake_slack.fail_next(1, failure)
    before = deliveries_counted(outcome)

    assert delivery_attempt(delivery_id=delivery.pk) == outcome

    assert deliveries_counted(outcome) == before + 1


def test_multiprocess_mode_sums_every_process(tmp_path):
    """Two processes with one PROMETHEUS_MULTIPROC_DIR: the second's /metrics sums what
    it counted and what the first counted before it exited."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "KIROKU_METRICS_TOKEN"}
    }
    environment.update({"KIROKU_VAR_DIR": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(folder)})
    count = "from apps.core.metrics import points_ingested; points_ingested({})"
    serve = (
        "from django.test import RequestFactory; from apps.core.metrics import metrics_view; "
        "import sys; sys.stdout.buffer.write(metrics_view(RequestFactory().get('/metrics'))"
        ".content)"
    )

    def shell(code: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout

    shell(count.format(5))
    body = shell(f"{count.format(3)}; {serve}")

    assert sample(body.encode(), "kiroku_ingested_points_total") == 8.0


def test_gunicorns_child_exit_drops_the_dead_workers_live_gauges(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("gauge_livesum_4242.db", "gauge_livesum_4343.db", "counter_4242.db"):
        (tmp_path / name).write_bytes(b"")

    gunicorn_child_exit(server=None, worker=SimpleNamespace(pid=4242))

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "counter_4242.db",  # a dead worker's counts still count
        "gauge_livesum_4343.db",
    ]


def test_clearing_the_multiprocess_folder_keeps_this_processs_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    own = f"counter_{os.getpid()}.db"
    for name in (own, "counter_1.db", "histogram_2.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")

    multiproc_dir_clear()

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([own, "notes.txt"])
