"""Observability in a real Celery worker process: a delivery's log lines carry the id
of the request that caused it (request → outbox dispatch → delivery), and the worker
serves its delivery outcomes on its own metrics port."""

from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest

from tests.conftest import points
from tests.integration.workers import eventually
from tests.notifications.fake_slack import CHANNEL, TOKEN
from tests.notifications.helpers import rule, slack_destination

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_settings(fake_slack, **extra: str) -> dict[str, str]:
    return {
        "KIROKU_BASE_URL": "https://kiroku.example",
        "KIROKU_SLACK_API_URL": fake_slack.url,
        "KIROKU_SLACK_MESSAGES_PER_SECOND": "50",
        **extra,
    }


def finish(client, run_id: str, **headers: str) -> None:
    body = {"batch_id": uuid.uuid4().hex, "metrics": points("val/acc", [0], lambda s: 0.9)}
    assert client.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    response = client.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"}, **headers)
    assert response.status_code == 200


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_deliverys_log_lines_carry_the_id_of_the_request_that_caused_it(
    workers, fake_slack, project, as_member, make_run, tmp_path
):
    workers.start(**worker_settings(fake_slack, KIROKU_LOG_FORMAT="json"))
    rule(project, slack_destination(project, token=TOKEN, channel=CHANNEL), "run.finished")
    run_id = make_run(name="traced")

    finish(as_member, run_id, HTTP_X_REQUEST_ID="finish-req-0001")

    def delivered_line() -> dict | None:
        log = (tmp_path / "worker-w1-0.log").read_text()
        for line in json_lines(log):
            message = line["message"]
            if message.startswith("Task notifications.deliver[") and "succeeded" in message:
                return line
        return None

    assert eventually(lambda: delivered_line() is not None, timeout=30), workers.logs()
    assert delivered_line()["request_id"] == "finish-req-0001"


def test_a_worker_serves_its_delivery_outcomes_on_its_metrics_port(
    workers, fake_slack, project, as_member, make_run, tmp_path
):
    port = free_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    workers.start(
        **worker_settings(
            fake_slack,
            KIROKU_WORKER_METRICS_PORT=str(port),
            PROMETHEUS_MULTIPROC_DIR=str(folder),
        )
    )
    rule(project, slack_destination(project, token=TOKEN, channel=CHANNEL), "run.finished")
    run_id = make_run(name="counted")
    sent = 'kiroku_notification_deliveries_total{kind="slack",outcome="sent"} 1.0'

    finish(as_member, run_id)

    assert eventually(
        lambda: sent in httpx.get(f"http://127.0.0.1:{port}/metrics").text, timeout=30
    ), workers.logs()
