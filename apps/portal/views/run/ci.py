"""A CI run in the portal: its badge (runs table and run page header), its links to
the workflow run and the pull request, and its CI report shaped for
templates/portal/run/ci_report.html.

The CI context comes from clients, so every reader tolerates a missing field or an
unexpected type, and only http(s) URLs become links. The report's comparison was
written by the server (apps.runs.comparison.comparison_out), but its metric keys and
test names are user text: the templates escape them like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.ci.models import CiReport
from apps.portal.formatting import human_seconds
from apps.portal.templatetags.portal import number
from apps.portal.views.run.facts import is_web_url, plain_text
from apps.runs.links import compare_path, run_path
from apps.runs.models import Run
from apps.runs.selectors import run_live_in_project

VERDICT_MARKS = {"passed": "✓", "no_baseline": "✓", "regressed": "✗"}
VERDICT_TITLES = {
    "passed": "passed against its baseline",
    "no_baseline": "passed (no baseline to compare with)",
    "regressed": "regressed against its baseline",
}
VERDICT_HEADLINES = {
    "passed": "Passed",
    "no_baseline": "Passed: no baseline to compare with",
    "regressed": "Regressed",
}


# -- the badge -----------------------------------------------------------------------


@dataclass(frozen=True)
class CiBadge:
    """``CI``, ``CI ✓`` or ``CI ✗``; ``verdict`` is "" when the run has no report."""

    title: str
    verdict: str = ""

    @property
    def text(self) -> str:
        mark = VERDICT_MARKS.get(self.verdict)
        return f"CI {mark}" if mark else "CI"

    @property
    def css_class(self) -> str:
        if not self.verdict:
            return "badge ci"
        return "badge ci ci-regressed" if self.verdict == "regressed" else "badge ci ci-passed"


def is_ci_run(ci: Any) -> bool:
    """Whether the run recorded a CI context with at least one value."""
    return isinstance(ci, dict) and any(value not in (None, "") for value in ci.values())


def ci_badge(ci: Any, verdict: str | None = None) -> CiBadge | None:
    """The badge of a run whose CI context is ``ci`` and whose report (if any) has
    ``verdict``; None for a run that was not run in CI and has no report. The title
    reads like "CI: owner/repo · pull request #12 · passed against its baseline"."""
    if not is_ci_run(ci) and not verdict:
        return None
    context = ci if isinstance(ci, dict) else {}
    parts = []
    where = plain_text(context.get("repository")) or plain_text(context.get("provider"))
    if where:
        parts.append(where)
    if context.get("pr") not in (None, ""):
        parts.append(f"pull request #{plain_text(context['pr'])}")
    elif context.get("branch"):
        parts.append(f"branch {plain_text(context['branch'])}")
    if verdict in VERDICT_TITLES:
        parts.append(VERDICT_TITLES[verdict])
    return CiBadge(title="CI: " + " · ".join(parts) if parts else "CI", verdict=verdict or "")


def run_ci_report(run: Run) -> CiReport | None:
    """The run's report, read without a query when the run was loaded with
    ``select_related("ci_report")``."""
    try:
        return run.ci_report
    except CiReport.DoesNotExist:
        return None


# -- links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CiLink:
    text: str
    url: str  # only ever an http(s) URL


def ci_links(ci: Any) -> list[CiLink]:
    """Links to the workflow run ("Workflow run") and the pull request ("Pull request
    #N"), each only when the context holds an http(s) URL for it (a client could send
    ``javascript:``)."""
    if not isinstance(ci, dict):
        return []
    links = []
    workflow = plain_text(ci.get("workflow_url"))
    if is_web_url(workflow):
        links.append(CiLink("Workflow run", workflow))
    pull = plain_text(ci.get("pr_url"))
    if is_web_url(pull):
        number = ci.get("pr")
        text = "Pull request" if number in (None, "") else f"Pull request #{plain_text(number)}"
        links.append(CiLink(text, pull))
    return links


# -- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    key: str
    value: str
    baseline: str
    change: str  # "-0.02 (-2.15%)", "" without a baseline value
    direction: str  # "better", "worse", "unchanged" or ""
    violated: bool


@dataclass(frozen=True)
class ReportGate:
    expression: str
    violated: bool
    reason: str


@dataclass(frozen=True)
class Tests:
    tests: int
    passed: int
    failures: int
    errors: int
    skipped: int
    time: str
    failed: list[str]
    more: int  # failing tests beyond the names kept


@dataclass
class Report:
    verdict: str
    headline: str
    created_at: datetime
    baseline_spec: str
    baseline_label: str  # how it was chosen: "latest finished run on main"
    baseline_name: str  # the run's label; "" when none was found
    baseline_url: str  # its page here; "" when it is gone or none was found
    compare_url: str
    gates: list[ReportGate] = field(default_factory=list)
    lines: list[ReportLine] = field(default_factory=list)
    truncated: bool = False
    tests: Tests | None = None


def change_text(delta: Any, percent: Any) -> str:
    if not isinstance(delta, int | float) or isinstance(delta, bool):
        return ""
    text = f"{delta:+.4g}"
    if isinstance(percent, int | float) and not isinstance(percent, bool):
        text += f" ({percent:+.2f}%)"
    return text


def _direction(line: dict) -> str:
    better = line.get("better")
    if better is True:
        return "better"
    if better is False:
        return "worse"
    return "unchanged" if line.get("delta") == 0 else ""


def _tests(junit: Any) -> Tests | None:
    if not isinstance(junit, dict):
        return None
    failed = [plain_text(name) for name in junit.get("failed") or []]
    total = junit.get("failed_total", 0)
    return Tests(
        tests=junit.get("tests", 0),
        passed=junit.get("passed", 0),
        failures=junit.get("failures", 0),
        errors=junit.get("errors", 0),
        skipped=junit.get("skipped", 0),
        time=human_seconds(float(junit.get("time", 0))),
        failed=failed,
        more=max(total - len(failed), 0) if isinstance(total, int) else 0,
    )


def _live_baseline(report: CiReport) -> Run | None:
    """The baseline run when it is still a live run of the report's project (a
    deleted run's page is a 404 to members)."""
    if report.baseline_run_id is None:
        return None
    return run_live_in_project(project_id=report.run.project_id, run_pk=report.baseline_run_id)


def ci_report_view(report: CiReport, *, project_slug: str) -> Report:
    """``report`` as the run page shows it. One query, for the baseline run, when the
    report has one."""
    comparison = report.comparison if isinstance(report.comparison, dict) else {}
    recorded = comparison.get("baseline") if isinstance(comparison.get("baseline"), dict) else {}
    baseline = _live_baseline(report)
    baseline_url = compare_url = ""
    if baseline is not None:
        baseline_url = run_path(project_slug, baseline.public_id)
        compare_url = compare_path(project_slug, baseline.public_id, report.run.public_id)
        name = baseline.label
    elif recorded:
        recorded_name = plain_text(recorded.get("name")) or "unnamed"
        name = f"{recorded_name} ({plain_text(recorded.get('id'))[:8]})"
    else:
        name = ""
    verdict = report.verdict
    return Report(
        verdict=verdict,
        headline=VERDICT_HEADLINES[verdict],
        created_at=report.created_at,
        baseline_spec=report.baseline_spec or plain_text(comparison.get("baseline_spec")),
        baseline_label=plain_text(comparison.get("baseline_label")),
        baseline_name=name,
        baseline_url=baseline_url,
        compare_url=compare_url,
        gates=[
            ReportGate(
                expression=plain_text(gate.get("expression")),
                violated=gate.get("violated") is True,
                reason=plain_text(gate.get("reason")),
            )
            for gate in comparison.get("gates") or []
            if isinstance(gate, dict)
        ],
        lines=[
            ReportLine(
                key=plain_text(line.get("key")),
                value=number(line.get("value")),
                baseline=number(line.get("baseline")),
                change=change_text(line.get("delta"), line.get("percent")),
                direction=_direction(line),
                violated=line.get("violated") is True,
            )
            for line in comparison.get("metrics") or []
            if isinstance(line, dict)
        ],
        truncated=comparison.get("metrics_truncated") is True,
        tests=_tests(report.junit),
    )


def ci_page_context(run: Run, *, project_slug: str) -> dict[str, Any]:
    """The run page's CI pieces: ``ci_badge``, ``ci_links`` and ``ci_report`` (None
    without a report). ``run`` should come with ``select_related("ci_report")``."""
    report = run_ci_report(run)
    return {
        "ci_badge": ci_badge(run.ci, report.verdict if report is not None else None),
        "ci_links": ci_links(run.ci),
        "ci_report": ci_report_view(report, project_slug=project_slug) if report else None,
    }
