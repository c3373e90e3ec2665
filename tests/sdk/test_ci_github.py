"""The CI context read from the environment (GitHub Actions, GitLab CI, other CI,
local), and the two files a GitHub step writes back: the job summary and the outputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from kiroku.ci.github import CiContext, ci_context, write_outputs, write_step_summary

HEAD_SHA = "1" * 40
MERGE_SHA = "2" * 40
PUSH_SHA = "3" * 40


def _github_env(tmp_path: Path, payload: dict | None, **overrides: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    if payload is not None:
        event.write_text(json.dumps(payload))
    env = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_SHA": PUSH_SHA,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_HEAD_REF": "",
        "GITHUB_BASE_REF": "",
        "GITHUB_REPOSITORY": "octo/vision",
        "GITHUB_RUN_ID": "9876543210",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_WORKFLOW": "eval",
        "GITHUB_JOB": "evaluate",
        "GITHUB_ACTOR": "mona",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_TOKEN": "ghs_secret_token",
    }
    env.update(overrides)
    return env


PUSH_PAYLOAD = {
    "ref": "refs/heads/main",
    "after": PUSH_SHA,
    "repository": {"full_name": "octo/vision", "default_branch": "trunk"},
    "pusher": {"name": "mona", "email": "mona@example.com"},
}

PR_PAYLOAD = {
    "action": "synchronize",
    "number": 42,
    "pull_request": {
        "number": 42,
        "head": {"sha": HEAD_SHA, "ref": "feature/faster"},
        "base": {"sha": "4" * 40, "ref": "main"},
        "user": {"login": "mona"},
    },
    "repository": {"full_name": "octo/vision", "default_branch": "main"},
}


def _pr_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return _github_env(
        tmp_path,
        PR_PAYLOAD,
        **{
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_SHA": MERGE_SHA,
            "GITHUB_REF": "refs/pull/42/merge",
            "GITHUB_REF_NAME": "42/merge",
            "GITHUB_HEAD_REF": "feature/faster",
            "GITHUB_BASE_REF": "main",
            **overrides,
        },
    )


def test_push_event(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD), cwd=tmp_path)
    assert ctx == CiContext(
        ci={
            "provider": "github",
            "repository": "octo/vision",
            "workflow": "eval",
            "workflow_url": "https://github.com/octo/vision/actions/runs/9876543210",
            "job": "evaluate",
            "run_id": "9876543210",
            "run_attempt": 1,
            "event": "push",
            "actor": "mona",
            "commit": PUSH_SHA,
            "ref": "refs/heads/main",
            "branch": "main",
        },
        commit=PUSH_SHA,
        branch="main",
        default_branch="trunk",
        pr=None,
        repository="octo/vision",
        api_url="https://api.github.com",
        token="ghs_secret_token",
        step_summary=tmp_path / "summary.md",
        output=tmp_path / "output.txt",
        on_github=True,
    )


def test_pull_request_event_uses_the_head_commit_not_the_merge_commit(tmp_path):
    ctx = ci_context(_pr_env(tmp_path), cwd=tmp_path)
    assert ctx.ci == {
        "provider": "github",
        "repository": "octo/vision",
        "workflow": "eval",
        "workflow_url": "https://github.com/octo/vision/actions/runs/9876543210",
        "job": "evaluate",
        "run_id": "9876543210",
        "run_attempt": 1,
        "event": "pull_request",
        "actor": "mona",
        "commit": MERGE_SHA,
        "ref": "refs/pull/42/merge",
        "branch": "feature/faster",
        "pr": 42,
        "pr_url": "https://github.com/octo/vision/pull/42",
        "base_ref": "main",
        "head_ref": "feature/faster",
    }
    assert (ctx.commit, ctx.branch, ctx.pr, ctx.default_branch) == (
        HEAD_SHA,
        "feature/faster",
        42,
        "main",
    )


def test_nothing_secret_goes_into_ci(tmp_path):
    ctx = ci_context(_pr_env(tmp_path), cwd=tmp_path)
    assert "ghs_secret_token" not in json.dumps(ctx.ci)
    assert "mona@example.com" not in json.dumps(ctx.ci)


def test_a_rerun_attempt_links_to_its_attempt(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD, GITHUB_RUN_ATTEMPT="2"), cwd=tmp_path)
    assert ctx.ci["workflow_url"] == (
        "https://github.com/octo/vision/actions/runs/9876543210/attempts/2"
    )
    assert ctx.ci["run_attempt"] == 2


def test_github_enterprise_server_urls(tmp_path):
    env = _pr_env(
        tmp_path,
        GITHUB_SERVER_URL="https://ghe.example.com/",
        GITHUB_API_URL="https://ghe.example.com/api/v3/",
    )
    ctx = ci_context(env, cwd=tmp_path)
    assert ctx.api_url == "https://ghe.example.com/api/v3"
    assert ctx.ci["workflow_url"] == "https://ghe.example.com/octo/vision/actions/runs/9876543210"
    assert ctx.ci["pr_url"] == "https://ghe.example.com/octo/vision/pull/42"


def test_api_url_defaults_to_github_com(tmp_path):
    env = _github_env(tmp_path, PUSH_PAYLOAD)
    del env["GITHUB_API_URL"], env["GITHUB_SERVER_URL"]
    ctx = ci_context(env, cwd=tmp_path)
    assert ctx.api_url == "https://api.github.com"
    assert ctx.ci["workflow_url"] == "https://github.com/octo/vision/actions/runs/9876543210"


@pytest.mark.parametrize(
    "content",
    [None, b"{not json", b"\xff\xfe garbage", b"[1, 2]", b'{"pull_request": {"number": "42"}}'],
    ids=["missing", "garbled", "not-utf8", "not-an-object", "number-as-text"],
)
def test_an_unusable_event_file_means_no_pull_request(tmp_path, content):
    env = _pr_env(tmp_path)
    event = Path(env["GITHUB_EVENT_PATH"])
    if content is None:
        event.unlink()
    else:
        event.write_bytes(content)
    ctx = ci_context(env, cwd=tmp_path)
    assert ctx.pr is None
    assert "pr" not in ctx.ci and "pr_url" not in ctx.ci
    # The merge commit is all that is known; the branch still comes from GITHUB_HEAD_REF.
    assert (ctx.commit, ctx.branch, ctx.default_branch) == (MERGE_SHA, "feature/faster", "main")


def test_a_tag_push_has_no_branch(tmp_path):
    env = _github_env(
        tmp_path, PUSH_PAYLOAD, GITHUB_REF="refs/tags/v1.2.0", GITHUB_REF_NAME="v1.2.0"
    )
    ctx = ci_context(env, cwd=tmp_path)
    assert ctx.branch == ""
    assert "branch" not in ctx.ci
    assert ctx.ci["ref"] == "refs/tags/v1.2.0"


def test_gitlab_merge_request_pipeline(tmp_path):
    env = {
        "GITLAB_CI": "true",
        "CI": "true",
        "CI_COMMIT_SHA": HEAD_SHA,
        "CI_COMMIT_REF_NAME": "feature/faster",
        "CI_PIPELINE_URL": "https://gitlab.example.com/octo/vision/-/pipelines/77",
        "CI_PIPELINE_ID": "77",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_PROJECT_PATH": "octo/vision",
        "CI_PROJECT_URL": "https://gitlab.example.com/octo/vision",
        "CI_JOB_NAME": "evaluate",
        "CI_MERGE_REQUEST_IID": "5",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/faster",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_DEFAULT_BRANCH": "main",
        "GITLAB_USER_LOGIN": "mona",
        "GITHUB_TOKEN": "ghs_not_used_here",
    }
    ctx = ci_context(env, cwd=tmp_path)
    assert ctx == CiContext(
        ci={
            "provider": "gitlab",
            "repository": "octo/vision",
            "workflow_url": "https://gitlab.example.com/octo/vision/-/pipelines/77",
            "job": "evaluate",
            "run_id": "77",
            "event": "merge_request_event",
            "actor": "mona",
            "commit": HEAD_SHA,
            "ref": "feature/faster",
            "branch": "feature/faster",
            "pr": 5,
            "pr_url": "https://gitlab.example.com/octo/vision/-/merge_requests/5",
            "base_ref": "main",
            "head_ref": "feature/faster",
        },
        commit=HEAD_SHA,
        branch="feature/faster",
        default_branch="main",
        pr=5,
        repository="octo/vision",
        api_url="https://api.github.com",
        token="",
        step_summary=None,
        output=None,
        on_github=False,
    )


def _git(cwd: Path, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(cwd),
        "GIT_AUTHOR_NAME": "Mona",
        "GIT_AUTHOR_EMAIL": "mona@example.com",
        "GIT_COMMITTER_NAME": "Mona",
        "GIT_COMMITTER_EMAIL": "mona@example.com",
    }
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q", "-b", "exp/lr-sweep")
    (path / "train.py").write_text("print('hi')\n")
    _git(path, "add", "train.py")
    _git(path, "commit", "-q", "-m", "first")
    return path


def test_other_ci_takes_commit_and_branch_from_git(repo):
    ctx = ci_context({"CI": "true"}, cwd=repo)
    head = _git(repo, "rev-parse", "HEAD")
    assert ctx == CiContext(
        ci={"provider": "ci", "commit": head, "branch": "exp/lr-sweep"},
        commit=head,
        branch="exp/lr-sweep",
        default_branch="main",
        pr=None,
        repository="",
        api_url="https://api.github.com",
        token="",
        step_summary=None,
        output=None,
        on_github=False,
    )


def test_without_ci_it_is_local(repo):
    ctx = ci_context({"CI": "false", "GITHUB_STEP_SUMMARY": "/tmp/x"}, cwd=repo)
    assert ctx.ci["provider"] == "local"
    assert ctx.step_summary is None


def test_outside_a_git_repository_commit_and_branch_are_empty(tmp_path):
    ctx = ci_context({}, cwd=tmp_path)
    assert (ctx.ci, ctx.commit, ctx.branch) == ({"provider": "local"}, "", "")


def test_github_without_a_sha_falls_back_to_git(repo):
    env = _github_env(repo.parent, PUSH_PAYLOAD, GITHUB_SHA="")
    ctx = ci_context(env, cwd=repo)
    assert ctx.commit == _git(repo, "rev-parse", "HEAD")
    assert "commit" not in ctx.ci


# -- the files a step writes back ----------------------------------------------------


def _runner_read_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT parsed as the runner does (SetOutputFileCommand): ``name=value``
    when ``=`` comes before any ``<<``, else ``name<<DELIM`` lines up to ``DELIM``."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    outputs: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line == "":
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            outputs[line[:equals]] = line[equals + 1 :]
            continue
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        assert name and delimiter, f"invalid line {line!r}"
        value: list[str] = []
        while lines[index] != delimiter:
            value.append(lines[index])
            index += 1
        index += 1
        outputs[name] = "\n".join(value)
    return outputs


def test_write_outputs_round_trips_through_the_runners_parser(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD), cwd=tmp_path)
    ctx.output.write_text("earlier=step\n")
    outputs = {
        "run-id": "9f" * 16,
        "run-url": "https://kiroku.example.com/projects/vision/runs/9f?a=b",
        "regressed": "true",
        "report": "line one\nEOF\nline=three\n",
        "tricky": "a<<b=c",
    }
    assert write_outputs(ctx, outputs) is True
    assert _runner_read_outputs(ctx.output.read_text()) == {"earlier": "step", **outputs}


def test_write_outputs_uses_a_delimiter_that_is_not_in_the_value(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD), cwd=tmp_path)
    write_outputs(ctx, {"report": "a\nb"})
    first_line = ctx.output.read_text().split("\n")[0]
    name, delimiter = first_line.split("<<")
    assert name == "report"
    assert delimiter.startswith("ghadelimiter_") and len(delimiter) == len("ghadelimiter_") + 32


def test_write_outputs_refuses_a_name_the_runner_cannot_read(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD), cwd=tmp_path)
    with pytest.raises(ValueError, match="output name 'a=b' cannot be written"):
        write_outputs(ctx, {"a=b": "c"})
    assert not ctx.output.exists()


def test_nothing_is_written_off_github(tmp_path):
    ctx = ci_context({"CI": "true"}, cwd=tmp_path)
    assert write_outputs(ctx, {"run-id": "x"}) is False
    assert write_step_summary(ctx, "### hi\n") is False


def test_write_step_summary_appends_after_a_blank_line(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD), cwd=tmp_path)
    ctx.step_summary.write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert write_step_summary(ctx, "### ✅ Kiroku: ci-eval passed") is True
    assert write_step_summary(ctx, "second\n") is True
    assert ctx.step_summary.read_text() == (
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n### ✅ Kiroku: ci-eval passed\n\nsecond\n"
    )


def test_write_step_summary_stays_under_githubs_limit(tmp_path):
    ctx = ci_context(_github_env(tmp_path, PUSH_PAYLOAD), cwd=tmp_path)
    row = "| eval/metric | 0.5 | 0.6 | +0.1 (+20.0%) ▲ better | ✅ |\n"
    rows = 20_000
    write_step_summary(ctx, row * rows)
    written = ctx.step_summary.read_bytes()
    kept = written.count(row.encode())
    assert len(written) <= 1024 * 1024
    assert written.endswith(
        f"\n… table cut: {rows - kept} more lines; see the run in Kiroku\n".encode()
    )
    assert len(written) + len(row.encode()) > 1024 * 1024  # no room for one more row
