from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_list_for_project
from apps.core.cursors import cursor_decode, cursor_encode
from apps.core.errors import Invalid
from apps.core.times import time_clean
from apps.core.views import KirokuApi, query_int
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_principal

AUDIT_PARAMETERS = [
    OpenApiParameter("action", str, description="exact action (`run.delete`) or prefix (`run.*`)"),
    OpenApiParameter("actor", str, description="username or token label"),
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


def event_out(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "created_at": event.created_at,
        "action": event.action,
        "actor": {
            "type": event.actor_type,
            "id": event.actor_id,
            "label": event.actor_label,
            "user": event.actor_user_label or None,
        },
        "project": event.project_label,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "ip": event.ip,
        "user_agent": event.user_agent,
        "metadata": event.metadata,
    }


class _AuditApi(KirokuApi):
    def events(self, request, slug: str, before_id: int | None = None):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        params = request.query_params
        return audit_list_for_project(
            project=project,
            action=params.get("action") or None,
            actor=params.get("actor") or None,
            since=time_clean(params.get("since") or None, field="since"),
            until=time_clean(params.get("until") or None, field="until"),
            before_id=before_id,
        )


class ProjectAuditApi(_AuditApi):
    @extend_schema(
        operation_id="audit_list",
        parameters=[
            *AUDIT_PARAMETERS,
            OpenApiParameter("page_size", int),
            OpenApiParameter("cursor", str),
        ],
        responses={200: dict},
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
        events = list(self.events(request, slug, before_id)[: page_size + 1])
        more = len(events) > page_size
        events = events[:page_size]
        next_cursor = cursor_encode({"audit_before": events[-1].pk}) if more else None
        return Response({"results": [event_out(e) for e in events], "next": next_cursor})


_CSV_COLUMNS = [
    "id",
    "created_at",
    "action",
    "actor_type",
    "actor_label",
    "actor_user",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "metadata",
]


def _csv_safe(value: object) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; quote it as text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


class _Echo:
    def write(self, value: str) -> str:
        return value


class ProjectAuditExportApi(_AuditApi):
    @extend_schema(
        operation_id="audit_export_csv",
        parameters=AUDIT_PARAMETERS,
        responses={(200, "text/csv"): str},
    )
    def get(self, request, slug: str):
        events = self.events(request, slug)
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(_CSV_COLUMNS)
            for e in events.iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        _csv_safe(v)
                        for v in (
                            e.pk,
                            e.created_at.isoformat(),
                            e.action,
                            e.actor_type,
                            e.actor_label,
                            e.actor_user_label,
                            e.target_type,
                            e.target_id,
                            e.target_label,
                            e.ip,
                            e.user_agent,
                            e.metadata,
                        )
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="kiroku-audit-{slug}.csv"'
        return response
