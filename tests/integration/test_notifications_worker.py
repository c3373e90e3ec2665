"""Notifications end to end: real Celery workers on Redis, the real slack_sdk and
notion_client against the loopback fakes. Exactly one message per delivery through
worker crashes, a broker outage and a burst of runs."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from datetime import timedelta

import pytest

from apps.events.models import DomainEvent
from apps.events.services import event_retry_undispatched
from apps.notifications.models import Delivery, DeliveryStatus
from apps.projects.models import Project
from config.celery import app
from tests.conftest import points
from tests.integration.workers import eventually, use_broker
from tests.notifications.fake_slack import CHANNEL, TOKEN
from tests.notifications.helpers import notion_destination, rule, slack_destination

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BASE_URL = "https://kiroku.example"


def worker_settings(slack=None, notion=None, **extra: str) -> dict[str, str]:
    env = {"KIROKU_BASE_URL": BASE_URL, "KIROKU_SLACK_MESSAGES_PER_SECOND": "50", **extra}
    if slack is not None:
        env["KIROKU_SLACK_API_URL"] = slack.url
    if notion is not None:
        env["KIROKU_NOTION_API_URL"] = notion.url
    return env


def finished_run(client, make_run, name: str, metrics: dict[str, float], params=None) -> str:
    run_id = make_run(name=name)
    body = {"batch_id": uuid.uuid4().hex, "params": params or {}, "metrics": []}
    for key, value in metrics.items():
        body["metrics"] += points(key, [0], lambda s, v=value: v)
    assert client.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    assert client.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"}).status_code == 200
    return run_id


def all_dispatched() -> bool:
    return not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def slack_rule(project, event="run.finished"):
    destination = slack_destination(project, token=TOKEN, channel=CHANNEL)
    return rule(project, destination, event)


def test_a_finished_run_gives_one_slack_message_and_one_notion_page(
    workers, fake_slack, fake_notion, project, as_member, make_run
):
    workers.start(**worker_settings(fake_slack, fake_notion))
    baseline = finished_run(
        as_member, make_run, "baseline", {"val/acc": 0.80, "val/loss": 0.5}, {"lr": "0.1"}
    )
    assert eventually(all_dispatched), workers.logs()
    Project.objects.filter(pk=project.pk).update(
        baseline={"mode": "best", "metric": "val/acc", "goal": "max"},
        primary_metrics=["val/acc", "val/loss"],
    )
    slack = slack_destination(project, token=TOKEN, channel=CHANNEL)
    notion = notion_destination(
        project, token=fake_notion.token, database_id=fake_notion.database_id
    )
    for destination in (slack, notion):
        rule(project, destination, "run.finished")
        rule(project, destination, "run.crashed")

    run_id = finished_run(
        as_member, make_run, "candidate", {"val/acc": 0.84, "val/loss": 0.4}, {"lr": "0.03"}
    )

    assert eventually(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2, timeout=60
    ), workers.logs()
    time.sleep(1)  # nothing else is on its way
    run_url = f"{BASE_URL}/projects/vision/runs/{run_id}"
    assert len(fake_slack.messages) == 1
    message = json.dumps(fake_slack.messages[0], ensure_ascii=False)
    assert run_url in message
    # mrkdwn writes the & of a link as &amp;
    assert f"{BASE_URL}/projects/vision/compare?runs={baseline}&amp;runs={run_id}" in message
    assert "+0.04 (+5.0%) ▲" in message
    assert len(fake_notion.pages) == 1
    page = fake_notion.pages[0]
    assert page["properties"]["val/acc"]["number"] == 0.84
    assert page["properties"]["URL"]["url"] == run_url
    assert "+0.04 (+5.0%) ▲" in fake_notion.page_text(page)


def test_a_worker_killed_mid_send_does_not_post_twice(
    workers, fake_slack, project, as_member, run_id
):
    first = workers.start("first", **worker_settings(fake_slack, KIROKU_NOTIFY_STUCK_AFTER="5"))
    slack_rule(project)
    fake_slack.fail_next(1, "hang_after_accept")
    assert (
        as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"}).status_code == 200
    )

    assert eventually(lambda: len(fake_slack.messages) == 1, timeout=60), workers.logs()
    workers.kill(first)
    fake_slack.release()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENDING, 1)
    workers.start("second", **worker_settings(fake_slack, KIROKU_NOTIFY_STUCK_AFTER="5"))
    time.sleep(5)  # the lost attempt is now stuck
    app.send_task("notifications.sweep")

    assert eventually(lambda: Delivery.objects.get().status == DeliveryStatus.SENT, timeout=60), (
        workers.logs()
    )
    delivery.refresh_from_db()
    assert len(fake_slack.messages) == 1
    assert (delivery.attempts, delivery.remote_id) == (2, fake_slack.messages[0]["ts"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own on a random port, which it may stop and start again
    (never the machine's shared one)."""
    port = _free_port()

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process: subprocess.Popen | None = None

        def start(self) -> None:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
            )
            assert eventually(self.up, timeout=10)

        def up(self) -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                return False
            return True

        def stop(self) -> None:
            assert self.process is not None
            self.process.terminate()
            self.process.wait(timeout=10)

    server = Server()
    server.start()
    before = app.conf.broker_url
    use_broker(server.url)
    try:
        yield server
    finally:
        use_broker(before)
        if server.process is not None and server.process.poll() is None:
            server.stop()


def test_a_delivery_written_while_the_broker_is_down_is_sent_when_it_is_back(
    workers, private_redis, fake_slack, project, as_member, run_id
):
    env = worker_settings(fake_slack, REDIS_URL=private_redis.url, KIROKU_NOTIFY_STUCK_AFTER="5")
    workers.start(**env)
    slack_rule(project)
    private_redis.stop()

    # The finish commits; enqueueing its dispatch fails; the outbox keeps the event.
    assert (
        as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"}).status_code == 200
    )
    assert event_retry_undispatched(older_than=timedelta(0)) >= 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, fake_slack.messages) == ("pending", 0, [])

    private_redis.start()
    assert eventually(lambda: bool(app.control.ping(timeout=0.5)), timeout=60), workers.logs()
    time.sleep(5)  # overdue by the stuck margin: its task was lost with the broker
    app.send_task("notifications.sweep")

    assert eventually(lambda: Delivery.objects.get().status == DeliveryStatus.SENT, timeout=60), (
        workers.logs()
    )
    assert len(fake_slack.messages) == 1


def test_a_burst_of_runs_is_paced_across_workers_without_429s(
    workers, fake_slack, project, as_member, make_run
):
    rate = 20
    fake_slack.rate_per_second = rate + 5  # Slack's limit, a little above Kiroku's pace
    env = worker_settings(fake_slack, KIROKU_SLACK_MESSAGES_PER_SECOND=str(rate))
    workers.start("a", **env)
    workers.start("b", **env)
    slack_rule(project)
    runs = [make_run(name=f"sweep-{i}") for i in range(100)]
    for run_id in runs:
        as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})

    assert eventually(lambda: len(fake_slack.messages) == 100, timeout=120), workers.logs()
    time.sleep(1)
    assert len(fake_slack.messages) == 100
    assert fake_slack.rate_limited_count == 0
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SENT, 1)}
    arrivals = sorted(float(m["ts"]) for m in fake_slack.messages)
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= rate + 2  # the pace, give or take the network's jitter
