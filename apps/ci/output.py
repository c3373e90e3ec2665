"""How a CI report looks on the wire."""

from __future__ import annotations

from apps.ci.models import CiReport
from apps.runs.compare import run_page_url


def ci_report_out(report: CiReport) -> dict:
    run = report.run
    return {
        "run": run.public_id,
        "url": run_page_url(run),
        "status": run.status,
        "verdict": report.verdict,
        "regressed": report.regressed,
        "baseline": report.baseline_spec,
        "fail_on": report.fail_on,
        "comparison": report.comparison,
        "junit": report.junit,
        "created_at": report.created_at.isoformat().replace("+00:00", "Z"),
    }
