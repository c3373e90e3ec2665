"""How a CI report looks on the wire: ci_report_out returns a TypedDict, which the
OpenAPI schema documents (apps.core.schema)."""

from __future__ import annotations

from typing import Annotated, TypedDict

from apps.ci.models import CiReport
from apps.core.schema import OpenApi
from apps.runs.comparison import ComparisonOut
from apps.runs.links import run_url
from apps.runs.models import RunStatus


class JunitOut(TypedDict):
    """The test summary the CI step read from the JUnit reports."""

    tests: int
    passed: int
    failures: int
    errors: int
    skipped: int
    failed_total: Annotated[int, "failing tests, of which `failed` names the first"]
    time: Annotated[float, "seconds"]
    failed: list[str]


class CiReportOut(TypedDict):
    """A CI job's verdict on a run, with the comparison as it stood when it reported."""

    run: Annotated[str, "the run's id"]
    url: Annotated[str, "the run's page"]
    status: Annotated[str, RunStatus]
    verdict: Annotated[
        str, OpenApi({"type": "string", "enum": ["regressed", "passed", "no_baseline"]})
    ]
    regressed: bool
    baseline: Annotated[str, "the `baseline` the job asked for; empty for the project's"]
    fail_on: Annotated[list[str], "the gates"]
    comparison: ComparisonOut
    junit: JunitOut | None
    created_at: Annotated[str, OpenApi({"type": "string", "format": "date-time"})]


def ci_report_out(report: CiReport) -> CiReportOut:
    run = report.run
    return {
        "run": run.public_id,
        "url": run_url(run),
        "status": run.status,
        "verdict": report.verdict,
        "regressed": report.regressed,
        "baseline": report.baseline_spec,
        "fail_on": report.fail_on,
        "comparison": report.comparison,
        "junit": report.junit,
        "created_at": report.created_at.isoformat().replace("+00:00", "Z"),
    }
