"""Open sign-up in the portal: anyone may create an account at ``/signup``, only
while KIROKU_OPEN_SIGNUP is on (otherwise site admins invite people)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from apps.accounts.services import user_signup
from apps.core.errors import KirokuError
from apps.portal.views.base import ANYONE, PortalView


class SignUpView(PortalView):
    """``/signup``: the 404 page unless KIROKU_OPEN_SIGNUP is on."""

    access = ANYONE

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.KIROKU_OPEN_SIGNUP:
            raise Http404("not found")
        if request.user.is_authenticated:
            return redirect("portal:projects")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = {
            "username": request.POST.get("username", "").strip(),
            "email": request.POST.get("email", "").strip(),
        }
        password = request.POST.get("password1", "")
        if password != request.POST.get("password2", ""):
            return self._page(
                request, form=form, errors={"password2": "the two passwords differ"}, status=400
            )
        try:
            user = user_signup(username=form["username"], email=form["email"], password=password)
        except KirokuError as exc:
            errors = {exc.field or "form": exc.message}
            return self._page(request, form=form, errors=errors, status=exc.status)
        login(request, user)
        messages.success(request, f"Welcome, {user.username}.")
        return redirect("portal:projects")

    def _page(
        self,
        request: HttpRequest,
        *,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = {"form": form or {}, "errors": errors or {}}
        return render(request, "portal/account/signup.html", context, status=status)
