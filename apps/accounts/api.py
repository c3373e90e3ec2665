from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.principal import Principal
from apps.core.permissions import IsAuthenticatedPrincipal
from apps.projects.models import Role

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


class MeApi(APIView):
    """Who the caller is: the user, and the token's name, scope and expiry. For a
    service token ``user`` is null: it acts for its project with its role, never as
    the person who created it."""

    permission_classes = [IsAuthenticatedPrincipal]

    @extend_schema(
        operation_id="me",
        responses={200: dict},
        examples=[
            OpenApiExample("personal token", value=ME_EXAMPLE, response_only=True),
            OpenApiExample("service token", value=ME_SERVICE_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request):
        principal = Principal.from_request(request)
        person = principal.person
        token = principal.token
        body: dict = {
            "user": (
                {"username": person.username, "email": person.email, "is_staff": person.is_staff}
                if person is not None
                else None
            ),
            "token": None,
        }
        if token is not None:
            body["token"] = {
                "name": token.name,
                "kind": token.kind,
                "prefix": token.prefix,
                "project": token.project.slug if token.project else None,
                "role": Role(token.role).label if token.role else None,
                "expires_at": token.expires_at,
            }
        return Response(body)
