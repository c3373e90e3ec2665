"""Issue 15's "Done when": a run started with the real SDK from a git work tree whose
uncommitted diff and ``.env`` hold every kind of secret, with a secret on its command
line, in its config, tags and summary, stores none of them: not in the diff, command,
environment or params as stored, not in the API's answers, the run page or the share
page (a link that reveals everything); and the innocent look-alikes in the same diff
are intact. A client that skips the SDK's redaction gets the same result from the
server."""

from __future__ import annotations

import html
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.test import Client

from apps.runs.models import Run
from tests.sdk import secrets_corpus as corpus

PYTHON = sys.executable

DOTENV = "\n".join(
    [
        f"KIROKU_TOKEN={corpus.KIROKU_TOKEN}",
        f"AWS_ACCESS_KEY_ID={corpus.AWS_KEY_ID}",
        f"AWS_SECRET_ACCESS_KEY={corpus.AWS_SECRET_KEY}",
        f"GITHUB_TOKEN={corpus.GITHUB_CLASSIC}",
        f"GH_OAUTH={corpus.GITHUB_OAUTH}",
        f"GH_FINE_GRAINED={corpus.GITHUB_FINE_GRAINED}",
        f"SLACK_BOT_TOKEN={corpus.SLACK_BOT}",
        f"SLACK_WEBHOOK_URL={corpus.SLACK_WEBHOOK}",
        f"OPENAI_API_KEY={corpus.OPENAI_PROJECT}",
        f"ANTHROPIC_API_KEY={corpus.ANTHROPIC}",
        f"GOOGLE_API_KEY={corpus.GOOGLE_API_KEY}",
        f"HF_TOKEN={corpus.HUGGINGFACE}",
        f"DATABASE_URL=postgres://kiroku:{corpus.POSTGRES_PASSWORD}@db.internal:5432/kiroku",
        f"REDIS_URL=redis://:{corpus.REDIS_PASSWORD}@cache:6379/0",
        f"SESSION_JWT={corpus.JWT}",
        f"DB_PASSWORD={corpus.NAMED_SECRET}",
        "",
    ]
)

SCRIPT = textwrap.dedent(
    """
    import json, os
    import kiroku

    # Handed over in the environment, which the SDK does not record.
    secrets = json.loads(os.environ["LEAKY_SECRETS"])
    with kiroku.init(
        name="leaky",
        config={
            "lr": 0.1,
            "db": {"password": secrets["named"], "host": "db.internal"},
            "openai_api_key": secrets["openai"],
            "data_url": secrets["url"],
        },
        tags={"hub": secrets["hf"], "team": "vision"},
        capture={"packages": False, "gpus": False},
        handle_signals=False,
    ) as run:
        run.config["slack_token"] = secrets["slack"]
        run.log({"loss": 0.5})
        run.summary["service_token"] = secrets["kiroku"]
        run.summary["best"] = 0.9
    print(run.id)
    """
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def leaky_repo(tmp_path) -> Path:
    """A work tree whose uncommitted changes hold every secret of the corpus, the
    ``.env`` above, and every look-alike."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "experiment.py").write_text(SCRIPT)
    (repo / "README.md").write_text("# leaky\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    with (repo / "README.md").open("a") as readme:  # a tracked file changed, unstaged
        readme.write(f'\nrun = kiroku.init(project="vision", token="{corpus.KIROKU_TOKEN}")\n')
    (repo / ".env").write_text(DOTENV)
    for case in corpus.POSITIVES:
        path = repo / (case.filename or f"notes/{case.id}.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as file:
            file.write(case.text + "\n")
    (repo / "lookalikes.txt").write_text("\n".join(corpus.LOOKALIKES) + "\n")
    (repo / "lookalikes.py").write_text("\n".join(corpus.LOOKALIKES) + "\n")
    (repo / "lookalikes.yaml").write_text("\n".join(corpus.CONFIG_LOOKALIKES) + "\n")
    git(repo, "add", "-A")  # new files are part of `git diff HEAD` once staged
    return repo


def leaks(text: str, token: str | None = None) -> list[str]:
    """The secrets (and the real API token the run used) found in ``text``, raw or
    HTML-escaped."""
    found = [secret for secret in [*corpus.SECRETS, token] if secret and secret in text]
    plain = html.unescape(text)
    return found + [secret for secret in corpus.SECRETS if secret in plain and secret not in found]


def lookalike_lines() -> list[str]:
    return [
        line
        for text in [*corpus.LOOKALIKES, *corpus.CONFIG_LOOKALIKES]
        for line in text.splitlines()
    ]


@pytest.fixture
def leaky_run(leaky_repo, child_env, token) -> str:
    argv = [
        PYTHON,
        "experiment.py",
        "--api-key",
        corpus.NAMED_SECRET,
        f"--token={corpus.KIROKU_TOKEN}",
        f"--data=postgres://app:{corpus.POSTGRES_PASSWORD}@db.internal/x",
        f"AWS_SECRET_ACCESS_KEY={corpus.AWS_SECRET_KEY}",
        "--lr",
        "0.1",
    ]
    secrets = {
        "named": corpus.NAMED_SECRET,
        "openai": corpus.OPENAI_PROJECT,
        "url": f"s3://user:{corpus.POSTGRES_PASSWORD}@minio.internal/bucket",
        "hf": corpus.HUGGINGFACE,
        "slack": corpus.SLACK_BOT,
        "kiroku": corpus.KIROKU_TOKEN,
    }
    env = {
        **child_env,
        "LEAKY_SECRETS": json.dumps(secrets),
        "OPENAI_API_KEY": corpus.OPENAI_PROJECT,
    }
    child = subprocess.run(
        argv, cwd=leaky_repo, env=env, capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0, child.stderr
    return child.stdout.strip().splitlines()[-1]


def test_no_secret_reaches_storage_the_api_the_run_page_or_the_share_page(
    leaky_run, token, admin, api_as
):
    run = Run.objects.get(public_id=leaky_run)
    stored = {
        "diff": run.git_diff,
        "environment": run.environment,
        "ci": run.ci,
        "params": {p.key: p.value for p in run.params.all()},
        "tags": {t.key: t.value for t in run.tags.all()},
        "summary": {s.key: s.value for s in run.summary_values.all()},
    }
    assert leaks(json.dumps(stored), token) == []

    # Everything was recorded: the secrets are replaced, not dropped.
    assert "+DB_PASSWORD=[redacted:secret]" in run.git_diff
    assert "+OPENAI_API_KEY=[redacted:openai-key]" in run.git_diff
    assert "+[redacted:private-key]" in run.git_diff
    assert 'token="[redacted:kiroku-token]"' in run.git_diff
    assert run.environment["command"][1:] == [
        "experiment.py",
        "--api-key",
        "[redacted:secret]",
        "--token=[redacted:kiroku-token]",
        "--data=postgres://app:[redacted:password]@db.internal/x",
        "AWS_SECRET_ACCESS_KEY=[redacted:aws-secret-access-key]",
        "--lr",
        "0.1",
    ]
    assert stored["params"] == {
        "lr": "0.1",
        "db.password": "[redacted:secret]",
        "db.host": "db.internal",
        "openai_api_key": "[redacted:openai-key]",
        "data_url": "s3://user:[redacted:password]@minio.internal/bucket",
        "slack_token": "[redacted:slack-token]",
    }
    assert stored["tags"] == {"hub": "[redacted:huggingface-token]", "team": "vision"}
    assert stored["summary"] == {"service_token": "[redacted:kiroku-token]", "best": 0.9}
    diff_lines = set(run.git_diff.splitlines())
    missing = [line for line in lookalike_lines() if f"+{line}" not in diff_lines]
    assert missing == []

    api = api_as(token)
    detail = api.get(f"/api/v1/runs/{leaky_run}")
    listing = api.get("/api/v1/projects/vision/runs")
    assert detail.status_code == listing.status_code == 200
    assert detail.json()["git"]["diff"] == run.git_diff
    assert leaks(detail.content.decode(), token) == []
    assert leaks(listing.content.decode(), token) == []

    portal = Client()
    portal.force_login(admin)
    page = portal.get(f"/projects/vision/runs/{leaky_run}")
    assert page.status_code == 200
    assert leaks(page.content.decode(), token) == []
    assert '<details id="git-diff">' in page.content.decode()
    shown = html.unescape(page.content.decode())
    assert [line for line in lookalike_lines() if line not in shown] == []

    flags = [
        "include_git_diff",
        "include_command",
        "include_host",
        "include_directory",
        "include_environment",
        "include_ci",
        "include_artifacts",
    ]
    link = api_as(admin).post(
        f"/api/v1/runs/{leaky_run}/share-links", {flag: True for flag in flags}
    )
    assert link.status_code == 201, link.content
    share_path = "/s/" + link.json()["url"].rsplit("/s/", 1)[1]
    visitor = Client()
    shared = visitor.get(share_path)
    assert shared.status_code == 200
    assert '<details id="git-diff">' in shared.content.decode()
    assert 'id="env-command"' in shared.content.decode()
    assert leaks(shared.content.decode(), token) == []
    shown = html.unescape(shared.content.decode())
    assert [line for line in lookalike_lines() if line not in shown] == []
    # The page's fragments (286: htmx's "stop polling", the run has ended).
    for fragment, status in (("status", 286), ("metrics", 200), ("artifacts", 200)):
        answer = visitor.get(f"{share_path}/{fragment}")
        assert answer.status_code == status
        assert leaks(answer.content.decode(), token) == []


def test_the_server_redacts_what_a_client_sends_unredacted(as_member, project):
    """An older SDK or another client: the secrets arrive in the clear and are stored
    redacted all the same."""
    diff = (
        "diff --git a/.env b/.env\n+++ b/.env\n"
        + "".join(f"+{line}\n" for line in DOTENV.splitlines())
        + "diff --git a/lookalikes.txt b/lookalikes.txt\n"
        + "".join(f"+{line}\n" for line in lookalike_lines())
    )
    body = {
        "name": "raw-client",
        "git": {"commit": corpus.COMMIT, "diff": diff},
        "environment": {
            "command": ["python", "train.py", "--password", corpus.NAMED_SECRET],
            "cwd": "/home/alice/project",
            "packages": [f"lib @ git+https://ci:{corpus.GITHUB_CLASSIC}@github.com/org/lib.git"],
        },
        "ci": {"workflow_url": f"https://ci:{corpus.POSTGRES_PASSWORD}@ci.example.com/run/1"},
    }

    response = as_member.post("/api/v1/projects/vision/runs", body)

    assert response.status_code == 201, response.content
    run = Run.objects.get(public_id=response.json()["id"])
    assert run.git_diff.splitlines()[:4] == [
        "diff --git a/.env b/.env",
        "+++ b/.env",
        "+KIROKU_TOKEN=[redacted:kiroku-token]",
        "+AWS_ACCESS_KEY_ID=[redacted:aws-access-key-id]",
    ]
    assert leaks(run.git_diff) == []
    assert [line for line in lookalike_lines() if f"+{line}" not in run.git_diff] == []
    assert run.environment == {
        "command": ["python", "train.py", "--password", "[redacted:secret]"],
        "cwd": "/home/alice/project",
        "packages": ["lib @ git+https://ci:[redacted:github-token]@github.com/org/lib.git"],
    }
    assert run.ci == {"workflow_url": "https://ci:[redacted:password]@ci.example.com/run/1"}
