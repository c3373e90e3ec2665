"""The portal's base view: every page declares who may open it.

``access`` is ``ANYONE`` (the sign-in page), ``SIGNED_IN`` (any signed-in user),
``STAFF`` (site admins; anyone else gets the 404 page, as if it did not exist) or a
project ``Role``: the page then takes the project from the URL's ``slug``, resolved
once through the same selector as the API, so the same rules decide. A project or
run the user may not read is a 404 page, one they may read but not change a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views import View

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.core.errors import Forbidden, KirokuError, NotFound
from apps.projects.access import role_for
from apps.projects.models import Project, Role
from apps.projects.selectors import project_get_for_principal

ANYONE = "anyone"
SIGNED_IN = "signed-in"
STAFF = "staff"


def signed_in_user(request: HttpRequest) -> User:
    """The user signed in to the portal. Callers have checked that someone is signed in
    (every page but an ``ANYONE`` one is only reached signed in); anyone else is refused."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied("sign in first")
    return user


def portal_principal(request: HttpRequest) -> Principal:
    """The signed-in user acting through the portal. Never the system principal:
    callers have checked that someone is signed in."""
    meta = request.META
    return Principal(
        user=signed_in_user(request),
        ip=meta.get("REMOTE_ADDR") or None,
        user_agent=(meta.get("HTTP_USER_AGENT") or "")[:500],
    )


class PortalView(View):
    access: str | Role | None = None
    project: Project
    principal: Principal

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if self.access is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} must declare access (ANYONE, SIGNED_IN, STAFF or a Role)"
            )
        if self.access != ANYONE:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            self.principal = portal_principal(request)
            if self.access == STAFF and not self.principal.is_staff:
                raise Http404("not found")
        try:
            if isinstance(self.access, Role):
                self.project = project_get_for_principal(
                    principal=self.principal, slug=kwargs["slug"], needed=self.access
                )
            return super().dispatch(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None

    def role(self) -> Role | None:
        return role_for(self.principal, self.project)


class ActionFormView(PortalView):
    """A settings page whose forms all post here with an ``action``; ``HANDLERS`` maps
    each action to a method. A refusal (``KirokuError``) is shown inline next to its
    form, with the service's status (``refusal_status``); a Forbidden is a 403 page."""

    HANDLERS: dict[str, Any] = {}

    def _page(self, request, *, errors: dict | None = None, status: int = 200) -> HttpResponse:
        raise NotImplementedError

    def refusal_status(self, request: HttpRequest, exc: KirokuError) -> int:
        return exc.status

    def get(self, request, slug: str) -> HttpResponse:
        return self._page(request)

    def post(self, request, slug: str) -> HttpResponse:
        action = request.POST.get("action", "")
        handler = self.HANDLERS.get(action)
        if handler is None:
            return self._page(request, errors={"form": f"unknown action '{action}'"}, status=400)
        try:
            return handler(self, request)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except KirokuError as exc:
            status = self.refusal_status(request, exc)
            return self._page(request, errors={action: exc.message}, status=status)
