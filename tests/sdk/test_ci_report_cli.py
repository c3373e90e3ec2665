"""``kiroku ci report`` end to end: a simulated GitHub Actions job against the live
server, the loopback GitHub API (PR comments) and the loopback Slack API."""

from __future__ import annotations

import pytest

from apps.ci.models import CiReport
from apps.runs.models import Run
from tests.sdk.ci_env import HEAD_SHA, MERGE_SHA, REPO, write_json

GATES = ("--fail-on", "eval/acc<-0.01", "--fail-on", "eval/loss>+5%")


@pytest.fixture
def main_baseline(job, tmp_path):
    """A push to main reported acc 0.92, loss 0.30: the baseline PRs compare with."""
    push = job(100)
    metrics = write_json(tmp_path / "main.json", {"eval": {"acc": 0.92, "loss": 0.30}})
    code, _, err = push.report("--metrics", metrics)
    assert code == 0, err
    return Run.objects.get(ci__run_id="100")


def pr_metrics(tmp_path, acc: float, loss: float) -> str:
    return write_json(tmp_path / f"pr-{acc}-{loss}.json", {"eval": {"acc": acc, "loss": loss}})


def test_a_regressed_pull_request_fails_the_job(job, main_baseline, tmp_path):
    code, out, err = job(101, pr=7, branch="feature").report(
        "--metrics", pr_metrics(tmp_path, 0.90, 0.31), *GATES
    )
    assert code == 1, err
    assert "eval/acc changed by -0.02, beyond the gate < -0.01" in out
    report = CiReport.objects.get(run__ci__run_id="101")
    assert (report.regressed, report.baseline_run_id) == (True, main_baseline.pk)


def test_a_pull_request_within_its_gates_passes(job, main_baseline, tmp_path):
    code, _, err = job(101, pr=7, branch="feature").report(
        "--metrics", pr_metrics(tmp_path, 0.915, 0.30), *GATES
    )
    assert (code, err) == (0, "")
    assert CiReport.objects.get(run__ci__run_id="101").verdict == "passed"


def test_the_run_records_the_ci_context_and_the_pr_head(job, main_baseline, tmp_path):
    job(101, pr=7, branch="feature").report("--metrics", pr_metrics(tmp_path, 0.9, 0.3))
    run = Run.objects.get(ci__run_id="101")
    assert (run.git_commit, run.git_branch, run.status) == (HEAD_SHA, "feature", "FINISHED")
    assert run.ci == {
        "provider": "github",
        "repository": REPO,
        "workflow": "evaluate",
        "workflow_url": f"https://github.example/{REPO}/actions/runs/101",
        "job": "eval",
        "run_id": "101",
        "run_attempt": 1,
        "event": "pull_request",
        "actor": "alice",
        "commit": MERGE_SHA,
        "ref": "refs/pull/7/merge",
        "branch": "feature",
        "pr": 7,
        "pr_url": f"https://github.example/{REPO}/pull/7",
        "base_ref": "main",
        "head_ref": "feature",
    }
    assert run.name == f"eval #7 {HEAD_SHA[:7]}"


def test_outputs_and_the_job_summary_are_written(job, main_baseline, tmp_path):
    pr = job(101, pr=7, branch="feature")
    pr.report("--metrics", pr_metrics(tmp_path, 0.90, 0.31), *GATES)
    run = Run.objects.get(ci__run_id="101")
    assert pr.outputs == {
        "run-id": run.public_id,
        "run-url": f"{_base(run)}/projects/vision/runs/{run.public_id}",
        "regressed": "true",
    }
    assert "| eval/acc | 0.92 | 0.9 |" in pr.summary
    assert "❌" in pr.summary


def test_the_first_push_comments_and_the_second_updates_the_same_comment(
    job, main_baseline, tmp_path, fake_github
):
    job(101, pr=7, branch="feature").report("--metrics", pr_metrics(tmp_path, 0.90, 0.31), *GATES)
    [first] = fake_github.on(REPO, 7)
    job(102, pr=7, branch="feature").report("--metrics", pr_metrics(tmp_path, 0.93, 0.29), *GATES)
    [second] = fake_github.on(REPO, 7)
    assert second.id == first.id
    assert second.body.startswith("<!-- kiroku-report:eval -->\n")
    assert "passed" in second.body and "regression" not in second.body.lower()
    assert [r.method for r in fake_github.requests if r.method != "GET"] == ["POST", "PATCH"]


def test_a_missing_baseline_passes_and_says_so(job, tmp_path):
    pr = job(101, pr=7, branch="feature")
    code, out, err = pr.report("--metrics", pr_metrics(tmp_path, 0.9, 0.3), *GATES)
    assert code == 0, err
    assert out.splitlines()[0] == f"Kiroku: eval #7 {HEAD_SHA[:7]} recorded, no baseline"
    assert "- no baseline run found for branch:main: nothing to compare with" in pr.summary
    assert CiReport.objects.get().verdict == "no_baseline"


def test_require_baseline_fails_without_one(job, tmp_path):
    code, _, err = job(101, pr=7, branch="feature").report(
        "--metrics", pr_metrics(tmp_path, 0.9, 0.3), "--require-baseline"
    )
    assert code == 1
    assert err == "kiroku: error: no baseline run for branch:main (--require-baseline)\n"


def _base(run: Run) -> str:
    from django.conf import settings

    return settings.KIROKU_BASE_URL
