from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.errors import Invalid
from apps.core.floats import float_out
from apps.core.views import KirokuApi, query_int
from apps.runs import selectors
from apps.runs.columns import SUMMARY_FIELDS, metric_summary_out
from apps.runs.validation import key_clean

STEP_MAX = 2**63 - 1


class RunMetricsApi(KirokuApi):
    @extend_schema(
        operation_id="runs_metrics",
        responses={200: dict},
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
    def get(self, request, run_id: str):
        run = selectors.run_get_for_principal(principal=self.principal, run_id=run_id)
        summaries = selectors.run_metric_summaries(run=run).values(*SUMMARY_FIELDS)
        return Response({"results": [metric_summary_out(s) for s in summaries], "next": None})


class RunMetricHistoryApi(KirokuApi):
    @extend_schema(
        operation_id="runs_metric_history",
        parameters=[
            OpenApiParameter("key", str, required=True, description="the metric key"),
            OpenApiParameter(
                "max_points",
                int,
                description="downsample to at most N points "
                "(3 to 10000), keeping each bucket's min and max and the last point",
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
        responses={200: dict},
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
    def get(self, request, run_id: str):
        run = selectors.run_get_for_principal(principal=self.principal, run_id=run_id)
        raw_key = request.query_params.get("key")
        if raw_key is None:
            raise Invalid("key is required", field="key")
        key = key_clean(raw_key, field="key")
        bounds = {
            name: query_int(request, name, default=None, minimum=-STEP_MAX - 1, maximum=STEP_MAX)
            for name in ("min_step", "max_step", "after_step")
        }
        history = selectors.run_metric_history(
            run=run,
            key=key,
            max_points=query_int(
                request,
                "max_points",
                default=None,
                minimum=1,
                maximum=selectors.MAX_DOWNSAMPLED_POINTS,
            ),
            page_size=query_int(
                request, "page_size", default=1000, minimum=1, maximum=selectors.MAX_HISTORY_PAGE
            ),
            **bounds,
        )
        results = [
            {
                "step": p["step"],
                "value": float_out(p["value"]) if p["value"] is not None else "NaN",
                "timestamp": p["timestamp"],
            }
            for p in history.points
        ]
        next_link = None
        if history.next_after_step is not None:
            query = request.query_params.copy()
            query["after_step"] = str(history.next_after_step)
            next_link = f"{request.path}?{query.urlencode()}"
        return Response(
            {
                "key": key,
                "downsampled": history.downsampled,
                "total": history.total,
                "results": results,
                "next": next_link,
            }
        )
