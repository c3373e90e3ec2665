from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.views import KirokuApi
from apps.runs import selectors
from apps.runs.baseline import baseline_spec_parse
from apps.runs.comparison import (
    COMPARISON_EXAMPLE,
    ComparisonOut,
    comparison_out,
    run_compare,
)
from apps.runs.gates import gates_parse


class RunCompareApi(KirokuApi):
    @extend_schema(
        operation_id="runs_compare",
        parameters=[
            OpenApiParameter(
                "baseline",
                str,
                description="`branch:NAME` (its latest finished run), `run:ID`, "
                "`best:METRIC:max` or `best:METRIC:min`; default: the project's baseline",
            ),
            OpenApiParameter(
                "fail_on",
                str,
                many=True,
                description="repeatable gate on the change against the baseline: "
                "`eval/acc<-0.01`, `loss>+5%`",
            ),
        ],
        responses={200: ComparisonOut},
        examples=[OpenApiExample("comparison", response_only=True, value=COMPARISON_EXAMPLE)],
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(principal=self.principal, run_id=run_id)
        setting = baseline_spec_parse(request.query_params.get("baseline"))
        gates = gates_parse(request.query_params.getlist("fail_on"))
        return Response(comparison_out(run_compare(run=run, setting=setting, gates=gates)))
