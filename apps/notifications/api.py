"""Destinations, rules and the delivery log over HTTP (project admins).

Credentials are write-only: a request may carry ``config.token``, no answer does (a
destination shows ``token_hint``, its kind prefix and last four characters).
"""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.core.cursors import cursor_decode, cursor_encode
from apps.core.errors import Invalid
from apps.core.pagination import Listing, list_page
from apps.core.schema import Page
from apps.core.views import KirokuApi, query_int
from apps.notifications import catalog, selectors
from apps.notifications.output import (
    DeliveryOut,
    DestinationOut,
    DestinationTestOut,
    RuleOut,
    delivery_out,
    destination_out,
    rule_out,
)
from apps.notifications.services import destinations as destination_services
from apps.notifications.services import rules as rule_services
from apps.notifications.validation import (
    destination_create_clean,
    destination_update_clean,
    rule_create_clean,
    rule_update_clean,
)
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_principal

DESTINATIONS = Listing("destinations", ("name", "pk"))
RULES = Listing("rules", ("pk",))
NAME_TAKEN = OpenApiResponse(description="Another destination of the project has this name.")

DESTINATION_EXAMPLE = {
    "id": 4,
    "kind": "slack",
    "name": "ml-alerts",
    "target": "C0123ABCD",
    "token_hint": "xoxb-••••9f3a",
    "broken": None,
    "created_at": "2026-01-01T12:00:00Z",
}
BROKEN_EXAMPLE = {
    **DESTINATION_EXAMPLE,
    "broken": {"reason": "channel_not_found", "at": "2026-01-02T08:00:00Z"},
}
RULE_EXAMPLE = {
    "id": 9,
    "event": "metric.threshold",
    "destination": 4,
    "condition": {"metric": "val/loss", "op": "<", "value": 0.25},
    "filters": {"tags": {"team": "vision"}, "branch": "main"},
    "cooldown": 3600,
    "enabled": True,
    "last_fired_at": None,
    "created_at": "2026-01-01T12:00:00Z",
}
DELIVERY_EXAMPLE = {
    "id": 31,
    "rule": 9,
    "destination": 4,
    "event": "run.finished",
    "run_id": "8c1f0e2d3b4a59687766554433221100",
    "status": "sent",
    "attempts": 2,
    "last_error": "ratelimited",
    "remote_id": "1767268800.000100",
    "created_at": "2026-01-01T12:00:00Z",
    "sent_at": "2026-01-01T12:00:03Z",
    "next_attempt_at": "2026-01-01T12:00:02Z",
}
CONFIG_HELP = (
    'Slack: `{"token": "xoxb-…", "channel": "C0123ABCD"}` (a bot token with chat:write, '
    "channels:history or groups:history, files:write and users:read.email; the channel's "
    'id, not its name). Notion: `{"token": "ntn_…", "database_id": "…32 hex digits…"}` (an '
    "internal integration's token; share the database with the integration). The token is "
    "stored encrypted and never returned."
)


# The request serializers below describe the bodies in the OpenAPI schema only; the
# bodies are checked by apps.notifications.validation (which names the field and its
# limits), as the portal's integrations page checks its forms.

# -- destinations ------------------------------------------------------------------------


class DestinationCreateInput(serializers.Serializer):
    kind = serializers.JSONField(help_text="`slack` or `notion`")
    name = serializers.JSONField(help_text="unique in the project, 1 to 100 characters")
    config = serializers.JSONField(help_text=CONFIG_HELP)


class DestinationUpdateInput(serializers.Serializer):
    name = serializers.JSONField(required=False)
    config = serializers.JSONField(
        required=False, help_text="Only the keys given change; a new token replaces the old."
    )


class ProjectDestinationsApi(KirokuApi):
    @extend_schema(
        operation_id="destinations_list",
        parameters=DESTINATIONS.parameters(),
        responses={200: Page[DestinationOut]},
        examples=[
            OpenApiExample(
                "destinations",
                response_only=True,
                value={"results": [DESTINATION_EXAMPLE], "next": None},
            )
        ],
    )
    def get(self, request, slug: str):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        found, next_cursor = list_page(
            request,
            selectors.destination_list(principal=self.principal, project=project),
            DESTINATIONS,
        )
        return Response({"results": [destination_out(d) for d in found], "next": next_cursor})

    @extend_schema(
        operation_id="destinations_create",
        request=DestinationCreateInput,
        responses={201: DestinationOut, 409: NAME_TAKEN},
        description=CONFIG_HELP,
        examples=[
            OpenApiExample(
                "slack",
                request_only=True,
                value={
                    "kind": "slack",
                    "name": "ml-alerts",
                    "config": {"token": "xoxb-1234-5678-abcdefgh9f3a", "channel": "C0123ABCD"},
                },
            ),
            OpenApiExample(
                "notion",
                request_only=True,
                value={
                    "kind": "notion",
                    "name": "results",
                    "config": {
                        "token": "ntn_4567abcdefgh",
                        "database_id": "1f2e3d4c5b6a79881726354453627180",
                    },
                },
            ),
            OpenApiExample(
                "created", response_only=True, status_codes=["201"], value=DESTINATION_EXAMPLE
            ),
        ],
    )
    def post(self, request, slug: str):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        data = destination_create_clean(request.data)
        destination = destination_services.destination_create(
            principal=self.principal, project=project, data=data
        )
        return Response(destination_out(destination), status=status.HTTP_201_CREATED)


class DestinationApi(KirokuApi):
    def _destination(self, destination_id: str):
        return selectors.destination_get_for_principal(
            principal=self.principal, destination_id=destination_id
        )

    @extend_schema(
        operation_id="destinations_read",
        responses={200: DestinationOut},
        examples=[
            OpenApiExample("destination", response_only=True, value=DESTINATION_EXAMPLE),
            OpenApiExample("broken", response_only=True, value=BROKEN_EXAMPLE),
        ],
    )
    def get(self, request, destination_id: str):
        return Response(destination_out(self._destination(destination_id)))

    @extend_schema(
        operation_id="destinations_update",
        request=DestinationUpdateInput,
        responses={200: DestinationOut, 409: NAME_TAKEN},
        description="A new token or target clears the broken state.",
        examples=[
            OpenApiExample(
                "new token", request_only=True, value={"config": {"token": "xoxb-9999-new-7c1d"}}
            ),
            OpenApiExample("rename", request_only=True, value={"name": "ml-alerts-2"}),
            OpenApiExample("updated", response_only=True, value=DESTINATION_EXAMPLE),
        ],
    )
    def patch(self, request, destination_id: str):
        destination = self._destination(destination_id)
        data = destination_update_clean(request.data, kind=destination.kind)
        destination = destination_services.destination_update(
            principal=self.principal, destination=destination, data=data
        )
        return Response(destination_out(destination))

    @extend_schema(
        operation_id="destinations_delete",
        responses={204: None},
        description="Removes the destination with its rules and delivery log.",
    )
    def delete(self, request, destination_id: str):
        destination_services.destination_delete(
            principal=self.principal, destination=self._destination(destination_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DestinationTestApi(KirokuApi):
    @extend_schema(
        operation_id="destinations_test",
        request=None,
        responses={200: DestinationTestOut},
        description="Sends a short test message (Notion: first adds the database's "
        "`Kiroku ID` property when it is missing). A failure is still a 200, with the "
        "error code only (`invalid_auth`, `channel_not_found`, `object_not_found`, "
        "`timeout`, `credentials_unreadable`…), never the remote's answer.",
        examples=[
            OpenApiExample("sent", response_only=True, value={"ok": True}),
            OpenApiExample(
                "refused", response_only=True, value={"ok": False, "error": "invalid_auth"}
            ),
        ],
    )
    def post(self, request, destination_id: str):
        destination = selectors.destination_get_for_principal(
            principal=self.principal, destination_id=destination_id
        )
        outcome = destination_services.destination_test(
            principal=self.principal, destination=destination
        )
        if outcome.ok:
            return Response({"ok": True})
        return Response({"ok": False, "error": outcome.code})


# -- rules -------------------------------------------------------------------------------


class RuleCreateInput(serializers.Serializer):
    event = serializers.JSONField(help_text="one of " + ", ".join(catalog.RULE_EVENTS))
    destination = serializers.JSONField(help_text="the id of a destination of this project")
    condition = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='metric.threshold: {"metric", "op": "<"|"<="|">"|">=", "value"}; '
        'run.new_best: {"metric", "goal": "min"|"max"}; any event may add "metrics", '
        "the key metrics of the message (at most 10).",
    )
    filters = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='{"tags": {key: value} (at most 20), "name": glob, "author": username, '
        '"branch": glob}, all optional.',
    )
    cooldown = serializers.JSONField(
        required=False, help_text="seconds between two messages of this rule, 0 to 604800"
    )
    enabled = serializers.JSONField(required=False)


class RuleUpdateInput(RuleCreateInput):
    event = serializers.JSONField(required=False)
    destination = serializers.JSONField(required=False)


class ProjectRulesApi(KirokuApi):
    @extend_schema(
        operation_id="rules_list",
        parameters=RULES.parameters(),
        responses={200: Page[RuleOut]},
        examples=[
            OpenApiExample(
                "rules", response_only=True, value={"results": [RULE_EXAMPLE], "next": None}
            )
        ],
    )
    def get(self, request, slug: str):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        found, next_cursor = list_page(
            request, selectors.rule_list(principal=self.principal, project=project), RULES
        )
        return Response({"results": [rule_out(r) for r in found], "next": next_cursor})

    @extend_schema(
        operation_id="rules_create",
        request=RuleCreateInput,
        responses={201: RuleOut},
        examples=[
            OpenApiExample(
                "on finish",
                request_only=True,
                value={
                    "event": "run.finished",
                    "destination": 4,
                    "condition": {"metrics": ["val/acc"]},
                },
            ),
            OpenApiExample(
                "threshold",
                request_only=True,
                value={
                    "event": "metric.threshold",
                    "destination": 4,
                    "condition": {"metric": "val/loss", "op": "<", "value": 0.25},
                    "filters": {"tags": {"team": "vision"}, "branch": "main"},
                    "cooldown": 3600,
                },
            ),
            OpenApiExample("created", response_only=True, status_codes=["201"], value=RULE_EXAMPLE),
        ],
    )
    def post(self, request, slug: str):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        data = rule_create_clean(request.data)
        rule = rule_services.rule_create(principal=self.principal, project=project, data=data)
        return Response(rule_out(rule), status=status.HTTP_201_CREATED)


class RuleApi(KirokuApi):
    def _rule(self, rule_id: str):
        return selectors.rule_get_for_principal(principal=self.principal, rule_id=rule_id)

    @extend_schema(
        operation_id="rules_read",
        responses={200: RuleOut},
        examples=[OpenApiExample("rule", response_only=True, value=RULE_EXAMPLE)],
    )
    def get(self, request, rule_id: str):
        return Response(rule_out(self._rule(rule_id)))

    @extend_schema(
        operation_id="rules_update",
        request=RuleUpdateInput,
        responses={200: RuleOut},
        examples=[
            OpenApiExample("pause", request_only=True, value={"enabled": False}),
            OpenApiExample("updated", response_only=True, value=RULE_EXAMPLE),
        ],
    )
    def patch(self, request, rule_id: str):
        rule = self._rule(rule_id)
        data = rule_update_clean(request.data, event=rule.event, condition=rule.condition)
        rule = rule_services.rule_update(principal=self.principal, rule=rule, data=data)
        return Response(rule_out(rule))

    @extend_schema(operation_id="rules_delete", responses={204: None})
    def delete(self, request, rule_id: str):
        rule_services.rule_delete(principal=self.principal, rule=self._rule(rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- the delivery log --------------------------------------------------------------------


def _before(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    payload = cursor_decode(cursor)
    position = payload.get("deliveries_before") if isinstance(payload, dict) else None
    if not isinstance(position, list) or len(position) != 2 or type(position[1]) is not int:
        raise Invalid("cursor belongs to another listing", field="cursor")
    try:
        return datetime.fromisoformat(position[0]), position[1]
    except (TypeError, ValueError):
        raise Invalid("cursor belongs to another listing", field="cursor") from None


class ProjectDeliveriesApi(KirokuApi):
    @extend_schema(
        operation_id="deliveries_list",
        parameters=[
            OpenApiParameter("status", str, enum=["pending", "sending", "sent", "failed"]),
            OpenApiParameter("limit", int, description="1 to 200, default 50"),
            OpenApiParameter("cursor", str, description="the `next` of the previous page"),
        ],
        responses={200: Page[DeliveryOut]},
        description="Every message Kiroku owes or sent, newest first.",
        examples=[
            OpenApiExample(
                "deliveries",
                response_only=True,
                value={"results": [DELIVERY_EXAMPLE], "next": None},
            )
        ],
    )
    def get(self, request, slug: str):
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.ADMIN)
        limit = query_int(request, "limit", default=50, minimum=1, maximum=200)
        page = selectors.delivery_list(
            principal=self.principal,
            project=project,
            status=request.query_params.get("status") or None,
            before=_before(request.query_params.get("cursor")),
            limit=limit,
        )
        next_cursor = None
        if page.next_before is not None:
            at, pk = page.next_before
            next_cursor = cursor_encode({"deliveries_before": [at.isoformat(), pk]})
        results = [delivery_out(d, run_public_ids=page.run_public_ids) for d in page.deliveries]
        return Response({"results": results, "next": next_cursor})
