from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.views import KirokuApi
from apps.runs import limits, selectors
from apps.runs.api import examples
from apps.runs.api.output import LogBatchOut
from apps.runs.ingest import run_log_batch
from apps.runs.validation import log_batch_clean


class RunLogBatchApi(KirokuApi):
    @extend_schema(
        operation_id="runs_log",
        request=dict,
        responses={
            200: LogBatchOut,
            409: OpenApiResponse(description="A param already holds another value."),
        },
        examples=[examples.LOG_REQUEST, examples.LOG_RESPONSE],
        description=(
            "Log metrics, params, tags, summary values and datasets in one all-or-nothing "
            f"batch. Limits: {limits.MAX_METRICS_PER_BATCH} metric points, "
            f"{limits.MAX_PARAMS_PER_BATCH} params, {limits.MAX_TAGS_PER_BATCH} tags per "
            f"batch; a 4 MiB body; keys of 1 to {limits.MAX_KEY_LENGTH} characters "
            "(letters, digits, `_ - . / space`; no `..`, no leading `/`); param values up to "
            f"{limits.MAX_PARAM_VALUE_LENGTH} characters, tag values up to "
            f"{limits.MAX_TAG_VALUE_LENGTH}. Values are float64; send NaN and infinities as "
            'the strings "NaN", "Infinity", "-Infinity". A repeated `batch_id` gets the first '
            "response back and writes nothing. `(key, step)` holds one value: a different "
            "value replaces it (last write wins). Params are write-once (409 on a change)."
        ),
    )
    def post(self, request: Request, run_id: str) -> Response:
        # Readable or 404; run_log_batch checks the member role (403) before the body.
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, related=("project",)
        )
        response, _replayed = run_log_batch(
            principal=self.principal,
            run=run,
            clean=lambda: log_batch_clean(request.data, now=timezone.now()),
        )
        return Response(response)
