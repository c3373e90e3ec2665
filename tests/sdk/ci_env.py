"""A simulated GitHub Actions job for the ``kiroku ci report`` tests: the runner's
environment variables, its event payload file, and the step summary and output
files, in a temporary folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from kiroku.cli import main

REPO = "acme/vision"
HEAD_SHA = "a" * 40
MERGE_SHA = "m" * 40


@dataclass
class Job:
    """One job run: ``report(...)`` runs the CLI in it and returns (exit code,
    stdout, stderr)."""

    monkeypatch: pytest.MonkeyPatch
    folder: Path
    capsys: pytest.CaptureFixture

    @property
    def summary(self) -> str:
        path = self.folder / "summary.md"
        return path.read_text() if path.exists() else ""

    @property
    def outputs(self) -> dict[str, str]:
        """$GITHUB_OUTPUT read back the way the runner reads it (name=value lines)."""
        path = self.folder / "output"
        if not path.exists():
            return {}
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)

    def report(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["ci", "report", "--project", "vision", *args])
        out, err = self.capsys.readouterr()
        return code, out, err


def github_job(
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    capsys: pytest.CaptureFixture,
    *,
    api_url: str,
    run_id: int,
    pr: int | None = None,
    branch: str = "main",
    sha: str = HEAD_SHA,
) -> Job:
    """Set the environment of a push (``pr=None``) or pull request job."""
    folder.mkdir(parents=True, exist_ok=True)
    payload: dict = {"repository": {"full_name": REPO, "default_branch": "main"}}
    env = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_API_URL": api_url,
        "GITHUB_RUN_ID": str(run_id),
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_WORKFLOW": "evaluate",
        "GITHUB_JOB": "eval",
        "GITHUB_ACTOR": "alice",
        "GITHUB_TOKEN": "ghs_test",
        "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
        "GITHUB_OUTPUT": str(folder / "output"),
        "GITHUB_EVENT_PATH": str(folder / "event.json"),
    }
    if pr is None:
        env.update(
            GITHUB_EVENT_NAME="push",
            GITHUB_REF=f"refs/heads/{branch}",
            GITHUB_REF_NAME=branch,
            GITHUB_SHA=sha,
            GITHUB_HEAD_REF="",
            GITHUB_BASE_REF="",
        )
    else:
        payload["pull_request"] = {
            "number": pr,
            "head": {"sha": sha, "ref": branch},
            "base": {"ref": "main"},
        }
        env.update(
            GITHUB_EVENT_NAME="pull_request",
            GITHUB_REF=f"refs/pull/{pr}/merge",
            GITHUB_REF_NAME=f"{pr}/merge",
            GITHUB_SHA=MERGE_SHA,
            GITHUB_HEAD_REF=branch,
            GITHUB_BASE_REF="main",
        )
    (folder / "event.json").write_text(json.dumps(payload))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Job(monkeypatch, folder, capsys)


def write_json(path: Path, data: dict) -> str:
    path.write_text(json.dumps(data))
    return str(path)
