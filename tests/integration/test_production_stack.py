"""The production stack end to end: gunicorn with two workers (config/gunicorn.py) and
two Celery worker processes on PostgreSQL and Redis, artifacts in S3 (moto's server),
Slack and Notion as loopback fakes, and the real SDK in a training script of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from apps.notifications.models import Delivery, DeliveryStatus
from apps.runs.models import MetricPoint, MetricSummary, Run, RunStatus
from tests.factories import make_token
from tests.integration.workers import eventually
from tests.notifications.fake_slack import CHANNEL, TOKEN
from tests.notifications.helpers import notion_destination, rule, slack_destination

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BASE_URL = "https://kiroku.example"
PYTHON = sys.executable
KEYS = ("train/loss", "val/acc")
# The SDK's production settings, with intervals short enough for a test: small batches
# every 50 ms, quick retries.
SDK_SETTINGS = {
    "timeout": 5.0,
    "flush_interval": 0.05,
    "heartbeat_interval": 1.0,
    "backoff_base": 0.05,
    "backoff_max": 0.3,
    "finish_timeout": 30.0,
}

SCRIPT = """
import json, sys, time
import kiroku
from kiroku.settings import Settings

settings, steps, pause = json.loads(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
artifact = sys.argv[4]
run = kiroku.init(name="production-stack", capture=False, settings=Settings(**settings))
print(run.id, flush=True)
for step in range(steps):
    run.log({"train/loss": 1.0 / (step + 1), "val/acc": step / 1000})
    time.sleep(pause)
if artifact:
    run.log_artifact(artifact)
run.finish()
"""


def expected_points(steps: int) -> list[tuple[str, int, float]]:
    return sorted(
        [("train/loss", step, 1.0 / (step + 1)) for step in range(steps)]
        + [("val/acc", step, step / 1000) for step in range(steps)]
    )


def stored_points(run_id: str) -> list[tuple[str, int, float]]:
    rows = MetricPoint.objects.filter(run__public_id=run_id)
    return sorted(rows.values_list("key", "step", "value"))


class TrainingScript:
    """The SDK in a child process, as a user's training script runs it."""

    def __init__(self, tmp_path, url: str, token: str) -> None:
        self.script = tmp_path / "train.py"
        self.script.write_text(SCRIPT)
        self.env = {
            **os.environ,
            "KIROKU_URL": url,
            "KIROKU_TOKEN": token,
            "KIROKU_PROJECT": "vision",
            "KIROKU_DIR": str(tmp_path / "kiroku"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None

    def start(self, *, steps: int, pause: float = 0.0, artifact: str = "") -> str:
        """Start the script; returns the run id once the run exists."""
        self.process = subprocess.Popen(
            [PYTHON, str(self.script), json.dumps(SDK_SETTINGS), str(steps), str(pause), artifact],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        run_id = self.process.stdout.readline().strip()
        assert run_id, self.process.communicate(timeout=30)[1]
        return run_id

    def wait(self) -> None:
        """Wait for the script to end; asserts a clean exit."""
        assert self.process is not None
        _, stderr = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, stderr

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)


@pytest.fixture
def training(tmp_path, member, project):
    """Build with ``training(url)``; the script is killed if the test ends first."""
    scripts: list[TrainingScript] = []

    def build(url: str) -> TrainingScript:
        script = TrainingScript(tmp_path, url, make_token(member))
        scripts.append(script)
        return script

    yield build
    for script in scripts:
        script.kill()


def notification_env(slack, notion) -> dict[str, str]:
    return {
        "KIROKU_BASE_URL": BASE_URL,
        "KIROKU_SLACK_API_URL": slack.url,
        "KIROKU_NOTION_API_URL": notion.url,
        "KIROKU_SLACK_MESSAGES_PER_SECOND": "50",
    }


def test_a_training_script_is_recorded_once_and_announced_once(
    s3_store,
    s3_endpoint,
    workers,
    gunicorn_factory,
    fake_slack,
    fake_notion,
    project,
    member,
    training,
    tmp_path,
):
    for destination in (
        slack_destination(project, token=TOKEN, channel=CHANNEL),
        notion_destination(project, token=fake_notion.token, database_id=fake_notion.database_id),
    ):
        rule(project, destination, "run.finished")
    env = notification_env(fake_slack, fake_notion)
    # Both Celery workers boot while gunicorn does.
    for name in ("a", "b"):
        workers.start(name, wait=False, **env)
    server = gunicorn_factory(workers=2, env=env)
    assert eventually(lambda: all(workers.ready(log) for _, log in workers.processes), 60), (
        workers.logs()
    )
    model = tmp_path / "model.bin"
    model.write_bytes(bytes(range(256)) * 256)  # 64 KiB

    script = training(server.url)
    run_id = script.start(steps=150, artifact=str(model))
    script.wait()

    assert stored_points(run_id) == expected_points(150)
    summaries = MetricSummary.objects.filter(run__public_id=run_id)
    assert dict(summaries.values_list("key", "count")) == dict.fromkeys(KEYS, 150)
    assert Run.objects.get(public_id=run_id).status == RunStatus.FINISHED

    headers = {"Authorization": f"Bearer {make_token(member)}"}
    with httpx.Client(base_url=server.url, headers=headers) as api:
        listing = api.get(f"/api/v1/runs/{run_id}/artifacts").json()["entries"]
        assert [(e["path"], e["size"]) for e in listing] == [("model.bin", 65536)]
        download = api.get(f"/api/v1/artifacts/{listing[0]['id']}/download")
    assert download.status_code == 302
    assert download.headers["location"].startswith(f"{s3_endpoint}/{s3_store.bucket}/")
    assert httpx.get(download.headers["location"]).content == model.read_bytes()

    def announced() -> bool:
        return len(fake_slack.messages) >= 1 and len(fake_notion.pages) >= 1

    assert eventually(announced, timeout=30), workers.logs()
    # A second copy (a task redelivered to the other worker, a second dispatch) would
    # land within a few hundred milliseconds here; 2 s is well past that.
    time.sleep(2)
    run_url = f"{BASE_URL}/projects/vision/runs/{run_id}"
    assert len(fake_slack.messages) == 1
    assert run_url in json.dumps(fake_slack.messages[0])
    assert [page["properties"]["URL"]["url"] for page in fake_notion.pages] == [run_url]
    deliveries = Delivery.objects.values_list("status", "attempts")
    assert sorted(deliveries) == [(DeliveryStatus.SENT, 1), (DeliveryStatus.SENT, 1)]


def test_a_gunicorn_worker_killed_while_the_sdk_logs_loses_and_repeats_nothing(
    gunicorn_factory, training
):
    server = gunicorn_factory(workers=2)
    assert eventually(lambda: len(server.worker_pids()) == 2, timeout=10)
    steps = 400  # about 2 s of logging in batches of about 20 points
    script = training(server.url)
    run_id = script.start(steps=steps, pause=0.005)

    def logged() -> int:
        return MetricPoint.objects.filter(run__public_id=run_id).count()

    assert eventually(lambda: logged() >= 40, timeout=30, interval=0.02), server.log_tail()
    victim = server.worker_pids()[0]
    server.kill_worker(victim)
    at_kill = logged()
    script.wait()

    assert at_kill < 2 * steps  # the kill came while the script was still logging
    assert stored_points(run_id) == expected_points(steps)
    summaries = MetricSummary.objects.filter(run__public_id=run_id)
    assert dict(summaries.values_list("key", "count")) == dict.fromkeys(KEYS, steps)
    assert Run.objects.get(public_id=run_id).status == RunStatus.FINISHED
    pids = server.worker_pids
    assert eventually(lambda: len(pids()) == 2 and victim not in pids()), server.log_tail()
