"""A project's audit log over HTTP: a page of events as JSON, or every event as CSV or
JSON lines, streamed. Project admins only; filters as apps.audit.selectors describes.
Here rather than in ``audit`` because reading a project's log is a project permission
(the audit app sits below projects and knows nothing of roles)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from apps.audit.exports import FORMATS, EventOut, csv_export, event_out, jsonl_export
from apps.audit.selectors import audit_list_for_project, audit_page
from apps.core.cursors import cursor_decode, cursor_encode
from apps.core.errors import Invalid
from apps.core.schema import Page
from apps.core.times import time_clean
from apps.core.views import KirokuApi, query_int
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_principal

AUDIT_PARAMETERS = [
    OpenApiParameter("action", str, description="exact action (`run.delete`) or prefix (`run.*`)"),
    OpenApiParameter("actor", str, description="username or token label"),
    OpenApiParameter("target_type", str, description="`run`, `project`, `member`, `token`, …"),
    OpenApiParameter("target_id", str, description="the target's id (a run's id, …)"),
    OpenApiParameter("since", str, description="ISO-8601, inclusive"),
    OpenApiParameter("until", str, description="ISO-8601, exclusive"),
]
EVENT_EXAMPLE = {
    "id": 42,
    "created_at": "2026-01-01T00:00:00Z",
    "action": "run.delete",
    "actor": {"type": "user", "id": "3", "label": "alice", "user": "alice"},
    "project": "vision",
    "target": {"type": "run", "id": "9f1c…", "label": "resnet (9f1c2e4b)"},
    "ip": "127.0.0.1",
    "user_agent": "curl/8.0",
    "metadata": {},
}
CSV_EXAMPLE = (
    "id,created_at,action,actor_type,actor_label,actor_user,target_type,target_id,"
    "target_label,ip,user_agent,metadata\r\n"
    "42,2026-01-01T00:00:00+00:00,run.delete,user,alice,alice,run,9f1c…,resnet (9f1c2e4b),"
    "127.0.0.1,curl/8.0,{}\r\n"
)
JSONL_EXAMPLE = (
    '{"id":42,"created_at":"2026-01-01T00:00:00Z","action":"run.delete","actor":{"type":"user",'
    '"id":"3","label":"alice","user":"alice"},"project":"vision","target":{"type":"run",'
    '"id":"9f1c…","label":"resnet (9f1c2e4b)"},"ip":"127.0.0.1","user_agent":"curl/8.0",'
    '"metadata":{}}\n'
)


class _AuditApi(KirokuApi):
    def events(self, request, slug: str, before_id: int | None = None):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        params = request.query_params
        return audit_list_for_project(
            project=project,
            action=params.get("action") or None,
            actor=params.get("actor") or None,
            target_type=params.get("target_type") or None,
            target_id=params.get("target_id") or None,
            since=time_clean(params.get("since") or None, field="since"),
            until=time_clean(params.get("until") or None, field="until"),
            before_id=before_id,
        )


class ProjectAuditApi(_AuditApi):
    @extend_schema(
        operation_id="audit_list",
        parameters=[
            *AUDIT_PARAMETERS,
            OpenApiParameter("page_size", int, description="1 to 1000 (default 100)"),
            OpenApiParameter("cursor", str, description="the `next` of the previous page"),
        ],
        responses={200: Page[EventOut]},
        examples=[
            OpenApiExample(
                "events", response_only=True, value={"results": [EVENT_EXAMPLE], "next": None}
            )
        ],
    )
    def get(self, request, slug: str):
        page_size = query_int(request, "page_size", default=100, minimum=1, maximum=1000)
        cursor = request.query_params.get("cursor")
        before_id = None
        if cursor:
            payload = cursor_decode(cursor)
            if not isinstance(payload, dict) or not isinstance(payload.get("audit_before"), int):
                raise Invalid("cursor belongs to another listing", field="cursor")
            before_id = payload["audit_before"]
        page = audit_page(self.events(request, slug, before_id), size=page_size)
        next_cursor = None
        if page.next_before is not None:
            next_cursor = cursor_encode({"audit_before": page.next_before})
        return Response({"results": [event_out(e) for e in page.events], "next": next_cursor})


class _OwnFormat(DefaultContentNegotiation):
    """The export reads ``format`` itself; DRF would take it for a renderer's name and
    answer 404. Errors are still JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ProjectAuditExportApi(_AuditApi):
    content_negotiation_class = _OwnFormat

    @extend_schema(
        operation_id="audit_export",
        description="Every event matching the filters, newest first, streamed: CSV (cells "
        "a spreadsheet would read as a formula start with `'`) or JSON lines (one event "
        "per line, the fields of the JSON list).",
        parameters=[
            *AUDIT_PARAMETERS,
            OpenApiParameter("format", str, enum=list(FORMATS), default="csv"),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                str, examples=[OpenApiExample("csv", value=CSV_EXAMPLE)]
            ),
            (200, "application/jsonl"): OpenApiResponse(
                str, examples=[OpenApiExample("jsonl", value=JSONL_EXAMPLE)]
            ),
        },
    )
    def get(self, request, slug: str):
        events = self.events(request, slug)
        kind = request.query_params.get("format") or "csv"
        if kind not in FORMATS:
            raise Invalid(f"format must be one of {', '.join(FORMATS)}", field="format")
        chunks = csv_export(events) if kind == "csv" else jsonl_export(events)
        response = StreamingHttpResponse(chunks, content_type=FORMATS[kind])
        response["Content-Disposition"] = f'attachment; filename="kiroku-audit-{slug}.{kind}"'
        return response
