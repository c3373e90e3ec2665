"""Route-level permission policies.

Every API view declares ``permission_classes``. The default (``DenyAll``) serves
nobody, so a route that forgets to declare one fails closed; a test walks every
route to make sure none relies on it. Project and run roles are checked by the
services and selectors (apps.projects.access), which answer 404 or 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class DenyAll(BasePermission):
    message = "this route declares no permission policy"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return False


class IsAuthenticatedPrincipal(BasePermission):
    """A valid bearer token (or, for the portal, a signed-in user)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated)
