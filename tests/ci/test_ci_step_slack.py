"""The CI step's report reaches Slack once: `kiroku ci report` against the live
server, with rules on ci.reported and run.finished and the loopback Slack API.

(In tests/ci rather than tests/sdk: the loopback Slack sets Django's ``settings``
fixture, which the SDK tests' folder redefines as the SDK's settings.)
"""

from __future__ import annotations

import pytest

from apps.notifications.models import Destination, Rule
from tests.factories import make_token
from tests.sdk.ci_env import github_job, write_json


@pytest.fixture
def job(live_server, member, project, fake_github, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KIROKU_URL", live_server.url)
    monkeypatch.setenv("KIROKU_TOKEN", make_token(member))
    monkeypatch.setenv("KIROKU_DIR", str(tmp_path / "kiroku"))
    fake_github.add_issue("acme/vision", 7)

    def make(run_id: int, **kwargs):
        folder = tmp_path / f"job{run_id}"
        return github_job(
            monkeypatch, folder, capsys, api_url=fake_github.url, run_id=run_id, **kwargs
        )

    return make


def test_slack_hears_about_a_regression_once(job, project, fake_slack, tmp_path):
    slack = Destination(project=project, kind="slack", name="ml", target=fake_slack.channel)
    slack.set_credentials({"token": fake_slack.token})
    slack.save()
    Rule.objects.create(project=project, destination=slack, event="ci.reported")
    Rule.objects.create(project=project, destination=slack, event="run.finished")
    main = write_json(tmp_path / "main.json", {"eval": {"acc": 0.92}})
    assert job(100).report("--metrics", main)[0] == 0
    fake_slack.messages.clear()
    pr = write_json(tmp_path / "pr.json", {"eval": {"acc": 0.90}})
    code, _, _ = job(101, pr=7, branch="feature").report(
        "--metrics", pr, "--fail-on", "eval/acc<-0.01"
    )
    assert code == 1
    [message] = fake_slack.messages
    assert message["blocks"][0]["text"]["text"] == "🧪 CI regression"
