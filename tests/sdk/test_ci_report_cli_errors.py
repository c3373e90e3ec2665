"""``kiroku ci report`` with bad input, an unreachable or refusing server, and the
parts around the comparison: JUnit, artifacts, comment modes, generic CI."""

from __future__ import annotations

import subprocess

import pytest
from kiroku.cli import main
from kiroku.spool import spool_list

from apps.ci.models import CiReport
from apps.runs.models import Run
from tests.sdk.ci_env import REPO, github_job, write_json
from tests.sdk.proxy import Rule


@pytest.fixture
def pr_job(kiroku_env, fake_github, monkeypatch, tmp_path, capsys):
    fake_github.add_issue(REPO, 7)
    return github_job(
        monkeypatch,
        tmp_path / "job",
        capsys,
        api_url=fake_github.url,
        run_id=101,
        pr=7,
        branch="feature",
    )


@pytest.fixture
def metrics(tmp_path) -> str:
    return write_json(tmp_path / "eval.json", {"eval": {"acc": 0.9}})


def _nothing_sent(fake_github) -> None:
    assert Run.objects.count() == 0
    assert fake_github.requests == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "metrics file '{path}' does not exist"),
        ("", "metrics file '{path}' is empty"),
        (
            '{"acc": 0.9,}',
            "{path} line 1 column 13: invalid JSON (Expecting property name "
            "enclosed in double quotes)",
        ),
        ('{"acc": "high"}', "{path}: 'high' is not a number (key 'acc')"),
    ],
)
def test_a_bad_metrics_file_exits_2_and_sends_nothing(
    pr_job, tmp_path, fake_github, content, message
):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    code, _, err = pr_job.report("--metrics", str(path))
    assert code == 2
    assert err == f"kiroku: error: {message.format(path=path)}\n"
    _nothing_sent(fake_github)


def test_a_malformed_gate_exits_2_before_anything_is_sent(pr_job, metrics, fake_github):
    code, _, err = pr_job.report("--metrics", metrics, "--fail-on", "acc dropped")
    assert code == 2
    assert err == (
        "kiroku: error: --fail-on 'acc dropped': expected KEY OP CHANGE, e.g. "
        "'eval/acc<-0.01' (fail when acc dropped by more than 0.01) or 'loss>+5%' (fail "
        "when loss rose by more than 5%); OP is <, <=, > or >=\n"
    )
    _nothing_sent(fake_github)


def test_a_malformed_baseline_exits_2(pr_job, metrics, fake_github):
    code, _, err = pr_job.report("--metrics", metrics, "--baseline", "main")
    assert code == 2
    assert err == (
        "kiroku: error: --baseline 'main': expected branch:NAME, run:ID, best:METRIC:max, "
        "best:METRIC:min or project\n"
    )
    _nothing_sent(fake_github)


def test_nothing_to_report_exits_2(pr_job, fake_github):
    code, _, err = pr_job.report()
    assert (code, err) == (
        2,
        "kiroku: error: nothing to report: pass --metrics FILE or --junit FILE\n",
    )
    _nothing_sent(fake_github)


def test_a_refused_batch_ends_the_run_as_failed_with_the_reason(
    pr_job, metrics, proxy, monkeypatch
):
    monkeypatch.setenv("KIROKU_URL", proxy.url)
    proxy.add(Rule("status", path="/log", status=400))
    code, _, err = pr_job.report("--metrics", metrics)
    assert code == 2
    assert err == "kiroku: error: injected\n"  # the proxy's error message
    run = Run.objects.get()
    assert run.status == "FAILED"
    assert dict(run.summary_values.values_list("key", "value")) == {
        "ci_error": "the server refused the results: injected"
    }
    assert not CiReport.objects.exists()


def test_an_unreachable_server_fails_the_step(pr_job, metrics, monkeypatch):
    monkeypatch.setenv("KIROKU_URL", "http://127.0.0.1:9")
    code, _, err = pr_job.report("--metrics", metrics)
    assert code == 1
    assert err.startswith("kiroku: error: cannot reach the Kiroku server at http://127.0.0.1:9 (")
    assert err.endswith("nothing was recorded (pass --allow-offline to spool the results)\n")


def test_allow_offline_spools_for_a_later_sync(pr_job, metrics, monkeypatch, kiroku_dir, server):
    monkeypatch.setenv("KIROKU_URL", "http://127.0.0.1:9")
    code, _, err = pr_job.report("--metrics", metrics, "--allow-offline")
    assert code == 0
    assert "run `kiroku sync` to upload them. No comparison was made." in err
    assert pr_job.outputs == {"run-id": "", "run-url": "", "regressed": "false"}
    assert len(spool_list(kiroku_dir / "spool")) == 1
    monkeypatch.setenv("KIROKU_URL", server)
    assert main(["sync", "-q"]) == 0
    run = Run.objects.get()
    assert (run.ci["pr"], run.status) == (7, "FINISHED")
    assert list(run.metric_summaries.values_list("key", "last")) == [("eval/acc", 0.9)]


def test_a_bad_token_exits_3(pr_job, metrics, monkeypatch):
    monkeypatch.setenv("KIROKU_TOKEN", "krk_not_a_token")
    code, _, _ = pr_job.report("--metrics", metrics)
    assert code == 3


def test_junit_counts_become_metrics_and_the_report(pr_job, tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuite name="s"><testcase classname="t" name="ok" time="1.5"/>'
        '<testcase classname="t" name="bad" time="0.5"><failure message="x"/></testcase>'
        '<testcase classname="t" name="skip"><skipped/></testcase></testsuite>'
    )
    code, _, err = pr_job.report("--junit", str(junit), "--fail-on", "junit/failures>+0")
    assert code == 0, err  # no baseline: the gate has nothing to compare with
    run = Run.objects.get()
    assert dict(run.metric_summaries.values_list("key", "last")) == {
        "junit/tests": 3.0,
        "junit/passed": 1.0,
        "junit/failures": 1.0,
        "junit/errors": 0.0,
        "junit/skipped": 1.0,
        "junit/time": 2.0,
    }
    assert CiReport.objects.get().junit["failed"] == ["t.bad"]
    assert "t.bad" in pr_job.summary


def test_artifacts_are_uploaded_to_the_run(pr_job, metrics, tmp_path, reader):
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights" * 100)
    code, _, err = pr_job.report("--metrics", metrics, "--artifact", str(model))
    assert code == 0, err
    run = Run.objects.get()
    assert [(a["path"], a["size"]) for a in reader.run(run.public_id).artifacts()] == [
        ("model.pt", 700)
    ]


def test_a_missing_artifact_exits_2(pr_job, metrics, tmp_path, fake_github):
    code, _, err = pr_job.report("--metrics", metrics, "--artifact", str(tmp_path / "nope"))
    assert (code, err) == (2, f"kiroku: error: artifact '{tmp_path / 'nope'}' does not exist\n")
    _nothing_sent(fake_github)


@pytest.mark.parametrize(("mode", "comments"), [("never", 0), ("on-change", 1), ("always", 1)])
def test_comment_modes_on_a_changed_result(pr_job, metrics, fake_github, mode, comments):
    pr_job.report("--metrics", metrics, "--comment", mode)
    assert len(fake_github.on(REPO, 7)) == comments


def test_on_change_does_not_start_a_comment_for_an_unchanged_result(
    kiroku_env, fake_github, monkeypatch, tmp_path, capsys, metrics
):
    fake_github.add_issue(REPO, 7)
    push = github_job(monkeypatch, tmp_path / "push", capsys, api_url=fake_github.url, run_id=1)
    assert push.report("--metrics", metrics)[0] == 0
    pr = github_job(
        monkeypatch,
        tmp_path / "pr",
        capsys,
        api_url=fake_github.url,
        run_id=2,
        pr=7,
        branch="feature",
    )
    assert pr.report("--metrics", metrics, "--comment", "on-change")[0] == 0
    assert fake_github.on(REPO, 7) == []
    assert pr.report("--metrics", metrics, "--comment", "always")[0] == 0
    assert len(fake_github.on(REPO, 7)) == 1


def test_outside_github_the_commit_and_branch_come_from_git(
    kiroku_env, monkeypatch, tmp_path, capsys, metrics
):
    repo = tmp_path / "repo"
    repo.mkdir()
    for command in (
        ["git", "init", "-q", "-b", "trunk"],
        [
            "git",
            "-c",
            "user.name=a",
            "-c",
            "user.email=a@b",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
    ):
        subprocess.run(command, cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    for name in ("GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "true")
    monkeypatch.chdir(repo)
    assert main(["ci", "report", "--project", "vision", "--metrics", metrics]) == 0
    run = Run.objects.get()
    assert (run.git_commit, run.git_branch) == (head, "trunk")
    assert run.ci == {"provider": "ci", "commit": head, "branch": "trunk"}
