"""Recording a CI job's results as a run: create it, log what the files held, upload
the artifacts, ask the server for the comparison and post the report.

Every request is retried through the SDK's transport (transient failures until the
deadline); batches carry ids so a retried one is not counted twice, and the create
carries a client id so a retried create returns the same run.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiroku import keys
from kiroku.artifacts.followups import FollowUp
from kiroku.artifacts.upload import Uploader
from kiroku.ci.github import CiContext
from kiroku.ci.inputs import Points
from kiroku.errors import InvalidInput, KirokuError
from kiroku.redaction import redact_json, redact_text
from kiroku.registry.register import ModelUpload
from kiroku.registry.versions import models_path
from kiroku.report import Reporter
from kiroku.settings import Settings
from kiroku.transport import Transport

try:  # the capture package is part of the SDK; guarded as kiroku.start does
    from kiroku import capture as _capture
except ImportError:  # pragma: no cover
    _capture = None  # type: ignore[assignment]

# A CI runner's network blips: wait this long for the server before giving up.
REACH_TIMEOUT = 30.0


@dataclass
class Results:
    """What the job hands over: everything read and checked before anything is sent."""

    project: str
    name: str
    points: Points
    params: dict[str, str]
    junit: dict[str, Any] | None  # kiroku.ci.junit.JUnitSummary.as_json()
    artifacts: list[Path]
    baseline: str  # a spec, "project" for the project's setting
    fail_on: list[str]
    model: ModelUpload | None = None  # --register-model, checked
    client_id: str = field(default_factory=lambda: "ci-" + secrets.token_urlsafe(16))


def default_name(ctx: CiContext) -> str:
    """``<job> #<pr>`` on a pull request, ``<job> <branch>`` otherwise, then the
    short commit: what a reviewer recognises in the runs table."""
    job = str(ctx.ci.get("job") or ctx.ci.get("workflow") or "ci")
    where = f"#{ctx.pr}" if ctx.pr else (ctx.branch or "detached")
    commit = f" {ctx.commit[:7]}" if ctx.commit else ""
    return f"{job} {where}{commit}"


def create_body(results: Results, ctx: CiContext) -> dict[str, Any]:
    """The run's create request: the CI context, git as the CI system names it (the
    PR head, not the merge commit GitHub checks out) and the environment, each with
    its secrets redacted (``kiroku.redaction``)."""
    body: dict[str, Any] = {
        "client_id": results.client_id,
        "name": results.name,
        "started_at": time.time(),
        "params": dict(list(results.params.items())[: keys.MAX_PARAMS_PER_BATCH]),
        "ci": redact_json(ctx.ci),
    }
    git: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    if _capture is not None:
        options = _capture.CaptureOptions(packages=False, gpus=False, datasets=False, dvc=False)
        context = _capture.capture_run_context(options)
        git = dict(context.get("git") or {})
        environment = context.get("environment") or {}
    if ctx.commit:
        if git.get("commit") != ctx.commit:
            # The checkout is not the commit being reported: its diff would mislead.
            git.update(dirty=False, diff="", diff_truncated=False)
        git["commit"] = ctx.commit
    if ctx.branch:
        git["branch"] = ctx.branch
    if git.get("commit"):
        body["git"] = git
    if environment:
        body["environment"] = environment
    return body


def metric_batches(points: Points) -> list[list[dict[str, Any]]]:
    """The points as log batches of at most the server's per-request maximum."""
    flat = [
        {"key": key, "value": keys.number_encode(value), "step": step}
        for key, series in points.items()
        for step, value in series
    ]
    size = keys.MAX_METRICS_PER_BATCH
    return [flat[i : i + size] for i in range(0, len(flat), size)]


@dataclass
class Uploads:
    """What ``Recorder.upload`` did: ``(artifact path, error)`` of each file not
    uploaded; the model's uploaded artifact paths, and why it cannot be registered
    (a file not uploaded, or no file at all) when it cannot."""

    failures: list[tuple[str, KirokuError]]
    model_names: list[str]
    model_error: KirokuError | None


class Recorder:
    """One CI run on the server, from create to report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.transport = Transport(settings)
        self.run_id: str | None = None
        self.run_url = ""

    def close(self) -> None:
        self.transport.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        deadline = time.monotonic() + max(self.settings.init_timeout, REACH_TIMEOUT)
        return self.transport.call(method, path, deadline=deadline, **kwargs)

    def create(self, results: Results, ctx: CiContext) -> None:
        answer = self._call(
            "POST", f"/projects/{results.project}/runs", body=create_body(results, ctx)
        )
        self.run_id, self.run_url = str(answer["id"]), str(answer.get("url") or "")

    def log(self, results: Results) -> None:
        """Send the metrics, and the params the create did not carry, in batches of
        the server's per-request maximums."""
        batches: list[dict[str, Any]] = [
            {"metrics": batch} for batch in metric_batches(results.points)
        ]
        params = list(results.params.items())
        size = keys.MAX_PARAMS_PER_BATCH
        batches += [{"params": dict(params[i : i + size])} for i in range(size, len(params), size)]
        for number, body in enumerate(batches):
            body["batch_id"] = f"{results.client_id[:48]}-{number}"
            self._call("POST", f"/runs/{self.run_id}/log", body=body)

    def upload(
        self, paths: list[Path], reporter: Reporter, *, model: ModelUpload | None = None
    ) -> Uploads:
        """Upload files and folders (each under its own name) and ``model``'s files
        (under ``models/<name>/``, as ``Run.log_model`` does, without registering)."""
        uploader = Uploader(settings=self.settings, reporter=reporter, run_id=lambda: self.run_id)
        for path in paths:
            uploader.submit(str(path), None)
        model_names: list[str] = []
        if model is not None:
            # The follow-up only collects the uploaded paths: the version is registered
            # after the verdict, and only if every gate passed (kiroku.ci.registration).
            collect = FollowUp(model.name, lambda _run_id, names: model_names.extend(names))
            uploader.submit(model.source, model.artifact_name, collect)
        failures = uploader.close(self.settings.artifact_timeout)
        model_error = next((error for _, error in uploader.not_done), None)
        if model is not None and model_error is None and not model_names:
            model_error = InvalidInput(f"{model.source} holds no file to register")
        return Uploads(failures, model_names, model_error)

    def register(self, project: str, model: ModelUpload, names: list[str]) -> int:
        """Register ``names`` (``model``'s uploaded files) as a new version of
        ``model.name`` (created the first time) with its aliases; the version number.
        Raises the server's refusal as KirokuError. Like ``log_model``'s, a
        registration whose answer was lost and that is retried can make two versions."""
        body = {"run_id": self.run_id, "path": model.registered_path(names), **model.fields}
        answer = self._call("POST", f"{models_path(project, model.name)}/versions", body=body)
        number = answer.get("version") if isinstance(answer, dict) else None
        if not isinstance(number, int) or isinstance(number, bool):
            raise KirokuError(f"the server's answer to registering {model.name!r} has no version")
        return number

    def report(self, results: Results) -> dict[str, Any]:
        """Post the report; the server compares the run with the baseline under the
        gates (as ``GET /runs/{id}/compare`` does), ends it and stores the verdict."""
        body = {
            "baseline": results.baseline,
            "fail_on": results.fail_on,
            "junit": redact_json(results.junit),  # failed tests' names are free text
            "status": "finished",
        }
        answer: dict[str, Any] = self._call("POST", f"/runs/{self.run_id}/ci-report", body=body)
        return answer

    def fail(self, reason: str) -> None:
        """End the run as FAILED with ``reason`` in its summary (best effort: the
        caller is already reporting an error)."""
        body = {"status": "failed", "summary": {"ci_error": redact_text(reason)[:1000]}}
        with contextlib.suppress(KirokuError):
            self._call("POST", f"/runs/{self.run_id}/finish", body=body)


def spool_offline(results: Results, ctx: CiContext, settings: Settings) -> Path:
    """Record the results in the local spool for a later ``kiroku sync`` (no
    comparison, no report: those need the server). Returns the spool folder."""
    from kiroku.start import init

    run = init(
        project=results.project,
        name=results.name,
        config=results.params,
        id=results.client_id,
        mode="offline",
        settings=settings,
        ci=ctx.ci,
        capture={"packages": False, "gpus": False, "datasets": False, "dvc": False},
        handle_signals=False,
        quiet=True,  # the command says where its results went, in its own words
    )
    for key, series in results.points.items():
        for step, value in series:
            run.log({key: value}, step=step)
    run.finish()
    return settings.spool_dir
