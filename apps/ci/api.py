from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.ci.models import CiReport
from apps.ci.output import CiReportOut, ci_report_out
from apps.ci.services import ci_report_clean, ci_report_create
from apps.core.errors import NotFound
from apps.core.views import KirokuApi
from apps.projects.models import Role
from apps.runs.comparison import COMPARISON_EXAMPLE
from apps.runs.selectors import run_get_for_principal

REPORT_EXAMPLE = {
    "baseline": "branch:main",
    "fail_on": ["eval/acc<-0.01", "eval/loss>+5%"],
    "junit": {
        "tests": 120,
        "passed": 118,
        "failures": 1,
        "errors": 0,
        "skipped": 1,
        "failed_total": 1,
        "time": 42.5,
        "failed": ["tests.test_eval.test_accuracy"],
    },
    "status": "finished",
}
REPORT_ANSWER = OpenApiExample(
    "report",
    response_only=True,
    value={
        "run": COMPARISON_EXAMPLE["run"]["id"],
        "url": COMPARISON_EXAMPLE["run"]["url"],
        "status": "FINISHED",
        "verdict": "regressed",
        "regressed": True,
        "baseline": "branch:main",
        "fail_on": ["eval/acc<-0.01"],
        "comparison": COMPARISON_EXAMPLE,
        "junit": REPORT_EXAMPLE["junit"],
        "created_at": "2026-11-28T10:00:00Z",
    },
)


class RunCiReportApi(KirokuApi):
    """A run's CI report: written once by the CI step (members), read by viewers."""

    @extend_schema(
        operation_id="runs_ci_report_create",
        request=dict,
        responses={
            200: CiReportOut,
            201: CiReportOut,
            409: OpenApiResponse(description="The run has a different report already."),
        },
        examples=[OpenApiExample("report", request_only=True, value=REPORT_EXAMPLE), REPORT_ANSWER],
        description="Record the CI job's verdict. The server compares the run with "
        "`baseline` (`branch:NAME`, `run:ID`, `best:METRIC:max|min`; default: the "
        "project's setting) under the `fail_on` gates, ends the run with `status` if it "
        "is still running, stores the report and announces it (`ci.reported`). The same "
        "report sent again answers 200; a different one is a 409.",
    )
    def post(self, request: Request, run_id: str) -> Response:
        run = run_get_for_principal(principal=self.principal, run_id=run_id, needed=Role.MEMBER)
        data = ci_report_clean(request.data)
        report, created = ci_report_create(principal=self.principal, run=run, data=data)
        return Response(
            ci_report_out(report),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="runs_ci_report", responses={200: CiReportOut}, examples=[REPORT_ANSWER]
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get_for_principal(principal=self.principal, run_id=run_id)
        report = CiReport.objects.select_related("run__project").filter(run=run).first()
        if report is None:
            raise NotFound("this run has no CI report", field="run_id")
        return Response(ci_report_out(report))
