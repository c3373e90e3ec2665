from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.pagination import Listing, list_page
from apps.core.schema import Page
from apps.core.views import KirokuApi
from apps.runs import selectors
from apps.runs.api.output import MetricHistoryOut
from apps.runs.columns import SUMMARY_FIELDS, MetricSummaryOut, metric_summary_out
from apps.runs.history import metric_history_answer

# Every key on one page unless a run has more than 10,000: the SDK reads the first
# page to resume a run's step counters.
METRIC_KEYS = Listing("metric-keys", ("key",), default_size=10_000, max_size=10_000)


class RunMetricsApi(KirokuApi):
    @extend_schema(
        operation_id="runs_metrics",
        parameters=METRIC_KEYS.parameters(),
        responses={200: Page[MetricSummaryOut]},
        examples=[
            OpenApiExample(
                "keys",
                response_only=True,
                value={
                    "results": [
                        {
                            "key": "loss",
                            "last": 0.31,
                            "min": 0.3,
                            "max": 2.1,
                            "count": 1000,
                            "last_step": 999,
                            "last_timestamp": "2026-01-01T01:00:00Z",
                        }
                    ],
                    "next": None,
                },
            ),
        ],
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(principal=self.principal, run_id=run_id)
        summaries = selectors.run_metric_summaries(run=run).values(*SUMMARY_FIELDS)
        page, next_cursor = list_page(request, summaries, METRIC_KEYS)
        return Response({"results": [metric_summary_out(s) for s in page], "next": next_cursor})


class RunMetricHistoryApi(KirokuApi):
    @extend_schema(
        operation_id="runs_metric_history",
        parameters=[
            OpenApiParameter("key", str, required=True, description="the metric key"),
            OpenApiParameter(
                "max_points",
                int,
                description="downsample to at most N points "
                "(4 to 10000), keeping the first and last points and each bucket's min and max",
            ),
            OpenApiParameter("min_step", int),
            OpenApiParameter("max_step", int),
            OpenApiParameter(
                "after_step",
                int,
                description="only points after this step "
                "(live refresh; also how `next` continues a page)",
            ),
            OpenApiParameter("page_size", int, description="1 to 10000 (default 1000)"),
        ],
        responses={200: MetricHistoryOut},
        examples=[
            OpenApiExample(
                "series",
                response_only=True,
                value={
                    "key": "loss",
                    "downsampled": False,
                    "total": 2,
                    "results": [
                        {"step": 0, "value": 2.1, "timestamp": "2026-01-01T00:00:00Z"},
                        {"step": 1, "value": "NaN", "timestamp": "2026-01-01T00:00:01Z"},
                    ],
                    "next": None,
                },
            )
        ],
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(principal=self.principal, run_id=run_id)
        return Response(
            metric_history_answer(run=run, params=request.query_params, path=request.path)
        )
