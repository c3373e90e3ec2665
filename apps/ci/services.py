"""Recording a CI job's report on its run (``POST /runs/{id}/ci-report``).

The server compares the run with the baseline itself (the same comparison as
``GET /runs/{id}/compare``), so the stored verdict always matches its numbers. A
running run is ended in the same transaction, and its end is announced by the
``ci.reported`` event instead of a separate ``run.finished`` message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.ci.models import CiReport
from apps.core.errors import Conflict, Invalid
from apps.core.floats import is_finite
from apps.core.validation import json_object
from apps.events import registry as domain_events
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.comparison import Baseline
from apps.projects.models import Role
from apps.runs.baseline import baseline_spec_parse
from apps.runs.comparison import Comparison, comparison_out, run_compare
from apps.runs.gates import Gate, gates_parse
from apps.runs.models import Run, RunStatus
from apps.runs.services import run_finish
from apps.runs.validation import RunFinishIn

MAX_FAILED_NAMES = 50
MAX_TEST_NAME_LENGTH = 500
# The message names the gated metrics first, then the first others compared.
MESSAGE_METRICS = 6
REPORT_FIELDS = {"baseline", "fail_on", "junit", "status"}
JUNIT_COUNTS = ("tests", "passed", "failures", "errors", "skipped", "failed_total")
END_STATUSES = {"finished": RunStatus.FINISHED, "failed": RunStatus.FAILED}


@dataclass(frozen=True)
class CiReportIn:
    baseline_spec: str
    setting: Baseline | None  # None: the project's baseline setting
    gates: list[Gate]
    junit: dict | None
    status: RunStatus


def ci_report_clean(data: Any) -> CiReportIn:
    """Validate a report body; raises Invalid naming the field."""
    json_object(data, REPORT_FIELDS)
    spec = data.get("baseline") or ""
    setting = baseline_spec_parse(spec)
    status = data.get("status", "finished")
    if not isinstance(status, str) or status not in END_STATUSES:
        raise Invalid("status must be 'finished' or 'failed'", field="status")
    return CiReportIn(
        baseline_spec=spec if setting is not None else "",
        setting=setting,
        gates=gates_parse(data.get("fail_on")),
        junit=junit_clean(data.get("junit")),
        status=END_STATUSES[status],
    )


def junit_clean(value: Any, *, field: str = "junit") -> dict | None:
    """The test summary: counts, total seconds, the failing tests' names."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object or null", field=field)
    allowed = {*JUNIT_COUNTS, "time", "failed"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise Invalid(f"{field} does not take: {', '.join(unknown)}", field=f"{field}.{unknown[0]}")
    clean: dict[str, Any] = {}
    for name in JUNIT_COUNTS:
        count = value.get(name, 0)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**31:
            raise Invalid(
                f"{field}.{name} must be a whole number from 0 to {2**31 - 1}",
                field=f"{field}.{name}",
            )
        clean[name] = count
    seconds = value.get("time", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise Invalid(f"{field}.time must be a number of seconds", field=f"{field}.time")
    if not is_finite(seconds) or seconds < 0:
        raise Invalid(f"{field}.time must be a finite number ≥ 0", field=f"{field}.time")
    clean["time"] = float(seconds)
    names = value.get("failed", [])
    if not isinstance(names, list) or len(names) > MAX_FAILED_NAMES:
        raise Invalid(
            f"{field}.failed must be a list of at most {MAX_FAILED_NAMES} test names",
            field=f"{field}.failed",
        )
    for name in names:
        if not isinstance(name, str) or not name or len(name) > MAX_TEST_NAME_LENGTH:
            raise Invalid(
                f"{field}.failed holds test names of 1 to {MAX_TEST_NAME_LENGTH} characters",
                field=f"{field}.failed",
            )
    clean["failed"] = list(names)
    return clean


def _same_request(report: CiReport, data: CiReportIn) -> bool:
    return (
        report.baseline_spec == data.baseline_spec
        and report.fail_on == [gate.expression for gate in data.gates]
        and report.junit == data.junit
    )


def ci_report_create(*, principal: Principal, run: Run, data: CiReportIn) -> tuple[CiReport, bool]:
    """Store the run's CI report (and end the run when it is still running); returns
    (report, created). Sending the same report again returns the stored one; a
    different one for a run that has a report is a Conflict."""
    require_role(principal, run.project, Role.MEMBER, what="run")
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("project").get(pk=run.pk)
        existing = CiReport.objects.filter(run=run).first()
        if existing is not None:
            if _same_request(existing, data):
                return existing, False
            raise Conflict(
                "this run already has a CI report; a new CI job records a new run",
                field="run",
            )
        if run.status == RunStatus.RUNNING:
            run = run_finish(
                principal=principal,
                run=run,
                data=RunFinishIn(status=data.status, summary={}, ended_at=None),
                event_extra={"ci_report": True},
            )
        comparison = run_compare(run=run, setting=data.setting, gates=data.gates)
        report = CiReport.objects.create(
            run=run,
            baseline_spec=data.baseline_spec,
            baseline_run=comparison.baseline,
            fail_on=[gate.expression for gate in data.gates],
            comparison=comparison_out(comparison),
            junit=data.junit,
            regressed=comparison.regressed,
        )
        audit_record(
            principal=principal,
            action=audit_actions.RUN_CI_REPORT,
            project=run.project,
            target_type="run",
            target_id=run.public_id,
            target_label=run.label,
            metadata={"verdict": report.verdict, "baseline": report.baseline_spec},
        )
        event_emit(
            type=domain_events.CI_REPORTED,
            project_id=run.project_id,
            run_id=run.pk,
            payload=_event_payload(run, report, comparison),
        )
    return report, True


def _event_payload(run: Run, report: CiReport, comparison: Comparison) -> dict[str, Any]:
    gated = [result.gate.metric for result in comparison.gates]
    others = [line.key for line in comparison.lines if line.key not in gated]
    return {
        "run_id": run.public_id,
        "name": run.name,
        "project": run.project.slug,
        "status": run.status,
        "verdict": report.verdict,
        "summary": report_summary(report),
        "baseline_run": comparison.baseline.public_id if comparison.baseline else None,
        "baseline_label": report.comparison.get("baseline_label", ""),
        "metrics": list(dict.fromkeys(gated + others))[: max(MESSAGE_METRICS, len(set(gated)))],
    }


def report_summary(report: CiReport) -> str:
    """A few plain lines for messages: the verdict against the baseline, the gates
    that failed, the tests."""
    comparison = report.comparison
    label = comparison.get("baseline_label") or ""
    lines = []
    if report.verdict == "no_baseline":
        asked = f" ({report.baseline_spec})" if report.baseline_spec else ""
        lines.append(f"No baseline to compare with{asked}.")
    elif report.regressed:
        lines.append(f"Regression against the {label}." if label else "Regression.")
    else:
        lines.append(f"Passed against the {label}." if label else "Passed.")
    lines += [f"✗ {gate['reason']}" for gate in comparison.get("gates", []) if gate["violated"]]
    junit = report.junit
    if junit:
        line = (
            f"Tests: {junit['passed']} passed, {junit['failures']} failed, "
            f"{junit['errors']} errors, {junit['skipped']} skipped."
        )
        if junit["failed"]:
            shown = ", ".join(junit["failed"][:5])
            more = junit["failed_total"] - min(5, len(junit["failed"]))
            line += f" Failing: {shown}" + (f" and {more} more." if more > 0 else ".")
        lines.append(line)
    return "\n".join(lines)
