from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

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


class MeApi(APIView):
    """Who the caller is: the user, and the token's name, scope and expiry."""

    permission_classes = [IsAuthenticatedPrincipal]

    @extend_schema(
        operation_id="me",
        responses={200: dict},
        examples=[OpenApiExample("caller", value=ME_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        user = request.user
        token = request.auth
        body = {
            "user": {"username": user.username, "email": user.email, "is_staff": user.is_staff},
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
