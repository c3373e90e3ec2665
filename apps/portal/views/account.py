"""Signing in and out, and the user's personal API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apps.accounts.models import ApiToken, TokenKind
from apps.accounts.services import token_create, token_revoke
from apps.core.errors import Invalid
from apps.core.ids import id_parse
from apps.core.throttles import login_attempt_wait
from apps.portal.views.base import ANYONE, SIGNED_IN, PortalView


class SignInView(auth_views.LoginView):
    access = ANYONE
    template_name = "portal/sign_in.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "open_signup": settings.KIROKU_OPEN_SIGNUP}

    def post(self, request, *args, **kwargs) -> HttpResponse:
        """Attempts are limited per address and username (apps.core.throttles); one
        over the limit is not tried and is answered 429 with the form and the wait."""
        username = request.POST.get("username", "")
        refused = login_attempt_wait(request, username)
        if refused is None:
            return super().post(request, *args, **kwargs)
        wait, message = refused
        messages.error(request, message)
        form = self.get_form_class()(request, initial={"username": username[:150]})
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response


class SignOutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET), so a link cannot sign anyone out;
    signing out when signed out just lands on the sign-in page."""

    access = ANYONE


class TokensView(PortalView):
    """Personal API tokens: create one (shown once), revoke one."""

    access = SIGNED_IN

    def _page(self, request, *, created=None, error: str | None = None, status: int = 200):
        tokens = ApiToken.objects.filter(user=request.user, kind=TokenKind.PERSONAL).order_by(
            "-created_at"
        )
        context = {"tokens": tokens, "created": created, "error": error, "now": timezone.now()}
        return render(request, "portal/tokens.html", context, status=status)

    def get(self, request) -> HttpResponse:
        return self._page(request)

    def post(self, request) -> HttpResponse:
        if "revoke" in request.POST:
            token = ApiToken.objects.filter(
                pk=_int(request.POST["revoke"]), user=request.user, kind=TokenKind.PERSONAL
            ).first()
            if token is None:
                raise Http404("token not found")
            token_revoke(principal=self.principal, token=token)
            messages.success(request, f"Token “{token.name}” revoked.")
            return redirect("portal:tokens")
        try:
            created = token_create(
                principal=self.principal, owner=request.user, name=request.POST.get("name", "")
            )
        except Invalid as exc:
            return self._page(request, error=exc.message, status=400)
        return self._page(request, created=created)


def _int(value: str) -> int:
    pk = id_parse(value)
    if pk is None:
        raise Http404("token not found")
    return pk
