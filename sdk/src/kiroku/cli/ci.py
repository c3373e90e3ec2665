"""``kiroku ci report``: post a CI job's results as a run, compare it with the
baseline, summarise it in the job and the pull request, and gate regressions.

Exit codes: 0 passed (or nothing to compare with); 1 a gate is violated, a baseline
is required and missing, or the server cannot be reached (without
``--allow-offline``); 2 usage or input error, found before anything is sent (or, if
the server refuses what was sent, after the run is ended as FAILED with the reason);
3 authentication.

``--register-model NAME --model-path PATH [--model-alias ALIAS]`` uploads the model
with the run and registers it as a new version only when every gate passed (with no
baseline too, unless ``--require-baseline``): see ``kiroku.ci.registration``. The exit
code is the report's; a registration that fails after the gates passed is an error
(its own message; 2 when the server refuses it, 1 unreachable, 3 authentication).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from kiroku.ci.comments import CommentError, comment_marker, comment_upsert
from kiroku.ci.gates import baseline_check, gates_check
from kiroku.ci.github import CiContext, ci_context, write_outputs, write_step_summary
from kiroku.ci.inputs import Points, read_metrics_files, read_params_file
from kiroku.ci.markdown import console_text, plain_text, summary_markdown
from kiroku.ci.recording import Recorder, Results, Uploads, default_name, spool_offline
from kiroku.ci.registration import Registration, model_check, refusal
from kiroku.cli.common import FAILURE, OK, Subcommands, error_print, exit_code_for, line_print
from kiroku.errors import AuthError, InvalidInput, KirokuError, Unreachable
from kiroku.registry.register import ModelUpload
from kiroku.report import Reporter
from kiroku.settings import settings_resolve

PASSED, REGRESSED = OK, FAILURE
COMMENT_MODES = ("always", "on-change", "never")


def _warn(text: str) -> None:
    sys.stderr.write(f"kiroku: warning: {text}\n")


def _annotation(kind: str, text: str) -> str:
    """A GitHub workflow command (``::error::…``) with its data escaped."""
    data = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{kind} title=Kiroku::{data}"


def read_results(args: argparse.Namespace, ctx: CiContext) -> Results:
    """Everything the job passed, read and checked; InvalidInput (exit 2) on any
    problem, before anything is sent."""
    fail_on = gates_check(list(args.fail_on or []))
    baseline = baseline_check(args.baseline or f"branch:{ctx.default_branch}")
    points: Points = read_metrics_files(args.metrics or [])
    junit = None
    if args.junit:
        from kiroku.ci.junit import read_junit_files

        summary = read_junit_files(args.junit)
        junit = summary.as_json()
        for key, value in summary.metrics().items():
            if key in points:
                raise InvalidInput(f"metric {key!r} is both in a metrics file and the JUnit counts")
            points[key] = [(0, value)]
    if not points:
        raise InvalidInput("nothing to report: pass --metrics FILE or --junit FILE")
    params = read_params_file(args.params) if args.params else {}
    artifacts = []
    for raw in args.artifact or []:
        path = Path(raw)
        if not path.exists():
            raise InvalidInput(f"artifact {raw!r} does not exist")
        artifacts.append(path)
    model = None
    if args.register_model is not None:
        aliases = list(dict.fromkeys(args.model_alias or []))
        model = model_check(args.register_model, aliases=aliases, path=args.model_path)
    elif args.model_path or args.model_alias:
        raise InvalidInput("--model-path and --model-alias need --register-model NAME")
    return Results(
        project=args.project,
        name=args.name or default_name(ctx),
        points=points,
        params=params,
        junit=junit,
        artifacts=artifacts,
        baseline=baseline,
        fail_on=fail_on,
        model=model,
    )


def cmd_ci_report(args: argparse.Namespace) -> int:
    ctx = ci_context(os.environ, cwd=Path.cwd())
    results = read_results(args, ctx)
    settings = settings_resolve(url=args.url, token=args.token, project=args.project)
    if not settings.token:
        raise AuthError("no token: set KIROKU_TOKEN (a project service token) or pass --token")
    recorder = Recorder(settings)
    try:
        try:
            recorder.create(results, ctx)
        except Unreachable as exc:
            if not args.allow_offline:
                raise Unreachable(
                    f"cannot reach the Kiroku server at {settings.url} ({exc.message}); "
                    "nothing was recorded (pass --allow-offline to spool the results)"
                ) from exc
            return _offline(results, ctx, settings, exc)
        return _report(args, results, ctx, recorder)
    finally:
        recorder.close()


def _report(args: argparse.Namespace, results: Results, ctx: CiContext, recorder: Recorder) -> int:
    try:
        recorder.log(results)
    except InvalidInput as exc:
        recorder.fail(f"the server refused the results: {exc.message}")
        raise
    notes = []
    uploads = None
    if results.artifacts or results.model is not None:
        uploads = recorder.upload(results.artifacts, Reporter(), model=results.model)
        notes += [
            f"artifact {name} not uploaded: {error.message}" for name, error in uploads.failures
        ]
    # The server compares (GET /runs/{id}/compare's comparison) as it stores the
    # report, so the verdict here is the one recorded.
    answer = recorder.report(results)
    comparison = answer["comparison"]
    regressed = bool(answer["regressed"])
    missing = comparison.get("baseline") is None
    for note in notes:
        _warn(note)
    if missing:
        notes.append(f"no baseline run found for {results.baseline}: nothing to compare with")
    registration, registration_error = None, None
    if results.model is not None and uploads is not None:
        reason = refusal(
            comparison,
            regressed=regressed,
            baseline_missing=missing,
            required=bool(args.require_baseline),
        )
        registration, registration_error = _register(
            results.project, results.model, recorder, uploads, reason, missing=missing
        )
    line_print(console_text(comparison, junit=results.junit))
    if registration is not None:
        line_print(plain_text(registration.text()))
    markdown = summary_markdown(
        comparison,
        junit=results.junit,
        title=results.name,
        notes=notes,
        model=registration.text() if registration is not None else "",
    )
    write_step_summary(ctx, markdown)
    write_outputs(
        ctx,
        {
            "run-id": recorder.run_id or "",
            "run-url": recorder.run_url,
            "regressed": "true" if regressed else "false",
        },
    )
    _comment(
        args,
        ctx,
        markdown,
        comparison,
        results.junit,
        registered=bool(registration and registration.registered),
    )
    if ctx.on_github:
        for gate in comparison.get("gates", []):
            if gate.get("violated"):
                line_print(_annotation("error", gate["reason"]))
    if regressed:
        return REGRESSED
    if missing and args.require_baseline:
        error_print(f"no baseline run for {results.baseline} (--require-baseline)")
        return REGRESSED
    if registration_error is not None:
        error_print(registration_error.message)
        return exit_code_for(registration_error)
    return PASSED


def _register(
    project: str,
    model: ModelUpload,
    recorder: Recorder,
    uploads: Uploads,
    reason: str | None,
    *,
    missing: bool,
) -> tuple[Registration, KirokuError | None]:
    """Register the model unless ``reason`` (a failed gate) says not to. Returns what
    became of it and, when registering failed, the error to exit with (its message
    names the model)."""
    aliases = tuple(model.fields.get("aliases") or ())
    if reason is not None:
        return Registration(model.name, aliases, reason=reason), None
    error = uploads.model_error
    if error is None:
        try:
            version = recorder.register(project, model, uploads.model_names)
        except KirokuError as exc:
            error = exc
        else:
            return Registration(model.name, aliases, version, baseline_missing=missing), None
    message = f"model {model.name!r} not registered: {error.message}"
    failed = type(error)(message, status=error.status, code=error.code, field=error.field)
    return Registration(model.name, aliases, reason=f"registration failed: {error.message}"), failed


def _changed(comparison: dict[str, Any], junit: dict[str, Any] | None) -> bool:
    """Whether anything differs from the baseline: a metric moved or has nothing to
    compare with, a gate failed, a test failed."""
    if comparison.get("regressed") or comparison.get("baseline") is None:
        return True
    if junit and (junit.get("failures") or junit.get("errors")):
        return True
    return any(m.get("delta") != 0 for m in comparison.get("metrics", []))


def _comment(
    args: argparse.Namespace,
    ctx: CiContext,
    markdown: str,
    comparison: dict[str, Any],
    junit: dict[str, Any] | None,
    *,
    registered: bool = False,
) -> None:
    mode = args.comment
    if mode == "never" or ctx.pr is None or not ctx.repository:
        return
    if not ctx.token:
        _warn("no GITHUB_TOKEN: the pull request gets no comment")
        return
    marker = comment_marker(args.step_name or str(ctx.ci.get("job") or "kiroku"))
    # A new version of the model is news even when no metric moved.
    create = mode == "always" or registered or _changed(comparison, junit)
    try:
        result = comment_upsert(
            api_url=ctx.api_url,
            token=ctx.token,
            repository=ctx.repository,
            pr=ctx.pr,
            marker=marker,
            body=f"{marker}\n{markdown}",
            create=create,
        )
    except CommentError as exc:
        _warn(str(exc))
        return
    if result is not None:
        line_print(f"Pull request comment {result.action}: {result.url}")


def _offline(results: Results, ctx: CiContext, settings: Any, exc: KirokuError) -> int:
    spool = spool_offline(results, ctx, settings)
    note = (
        f"The Kiroku server could not be reached ({exc.message}); the results are spooled in "
        f"{spool}: run `kiroku sync` to upload them. No comparison was made."
    )
    if results.model is not None:
        note += f" Model {results.model.name} not registered: nothing was compared."
    _warn(note)
    write_step_summary(ctx, f"### ⚠️ Kiroku: {results.name} not compared\n\n{note}\n")
    write_outputs(ctx, {"run-id": "", "run-url": "", "regressed": "false"})
    return PASSED


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``ci report`` to the ``kiroku`` parser."""
    ci = commands.add_parser("ci", help="report a CI job's results")
    sub = ci.add_subparsers(dest="ci_command", required=True, metavar="COMMAND")
    report = sub.add_parser(
        "report",
        parents=[common],
        help="record CI results as a run, compare with the baseline, gate regressions",
        description="Record a CI job's evaluation as a run, compare it with the baseline, "
        "write the job summary and the pull request comment, and exit 1 on a regression.",
        epilog="Exit codes: 0 passed, 1 regression (or server unreachable), 2 usage or "
        "input error, 3 authentication.",
    )
    report.add_argument("-p", "--project", required=True)
    report.add_argument("--name", help="the run's name (default: job, PR or branch, commit)")
    report.add_argument(
        "--metrics",
        action="append",
        metavar="FILE",
        help="JSON, YAML, CSV/TSV or DVC metrics file (repeatable)",
    )
    report.add_argument("--junit", action="append", metavar="FILE", help="JUnit XML (repeatable)")
    report.add_argument("--params", metavar="FILE", help="JSON or YAML params file")
    report.add_argument(
        "--artifact", action="append", metavar="PATH", help="file or folder to upload"
    )
    report.add_argument(
        "--baseline",
        help="branch:NAME, run:ID, best:METRIC:max|min, or project "
        "(default: branch:<the repository's default branch>)",
    )
    report.add_argument(
        "--fail-on",
        action="append",
        metavar="GATE",
        help="e.g. 'eval/acc<-0.01' or 'loss>+5%%' (repeatable)",
    )
    report.add_argument("--comment", choices=COMMENT_MODES, default="on-change")
    report.add_argument("--step-name", help="tells this step's PR comment apart (default: job)")
    report.add_argument(
        "--require-baseline", action="store_true", help="fail when no baseline run is found"
    )
    report.add_argument(
        "--allow-offline",
        action="store_true",
        help="when the server is unreachable, spool for `kiroku sync` and pass",
    )
    report.add_argument(
        "--register-model",
        metavar="NAME",
        help="register --model-path as a new version of model NAME when every gate passed",
    )
    report.add_argument(
        "--model-path",
        metavar="PATH",
        help="the model's file or folder, uploaded with the run (required by --register-model)",
    )
    report.add_argument(
        "--model-alias",
        "--alias",
        action="append",
        metavar="ALIAS",
        help="point ALIAS (e.g. staging) at the registered version (repeatable)",
    )
    report.set_defaults(handler=cmd_ci_report)
