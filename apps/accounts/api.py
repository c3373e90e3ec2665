from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.output import MeOut, me_out
from apps.core.permissions import IsAuthenticatedPrincipal
from apps.core.views import KirokuApi

ME_EXAMPLE = {
    "user": {"username": "alice", "email": "alice@example.com", "is_staff": False},
    "token": {
        "name": "laptop",
        "kind": "personal",
        "prefix": "krk_AbCdEfGh",
        "project": None,
        "role": None,
        "expires_at": None,
    },
}
# A service token is the project's: it names no person.
ME_SERVICE_EXAMPLE = {
    "user": None,
    "token": {
        "name": "ci",
        "kind": "service",
        "prefix": "krk_IjKlMnOp",
        "project": "vision",
        "role": "member",
        "expires_at": "2027-01-01T00:00:00Z",
    },
}


class MeApi(KirokuApi):
    """Who the caller is: the user, and the token's name, scope and expiry. For a
    service token ``user`` is null: it acts for its project with its role, never as
    the person who created it."""

    permission_classes = [IsAuthenticatedPrincipal]

    @extend_schema(
        operation_id="me",
        responses={200: MeOut},
        examples=[
            OpenApiExample("personal token", value=ME_EXAMPLE, response_only=True),
            OpenApiExample("service token", value=ME_SERVICE_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request: Request) -> Response:
        principal = self.principal
        return Response(me_out(person=principal.person, token=principal.token))
