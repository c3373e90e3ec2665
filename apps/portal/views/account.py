"""The signed-in user's own account: signing in and out, the account page (name, email,
password) and the personal API tokens. The account page shows only its own user."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apps.accounts.services import (
    user_email_change,
    user_name_update,
    user_password_set,
)
from apps.core.errors import Invalid, KirokuError
from apps.core.throttles import login_attempt_wait
from apps.portal.token_expiry import token_expiry_context, token_expiry_from_form
from apps.portal.views.base import ANYONE, SIGNED_IN, PortalView, signed_in_user
from apps.projects.selectors import token_get_personal, token_list_personal
from apps.projects.tokens import token_create, token_revoke


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


class AccountView(PortalView):
    """``/account``: the user's name, email (needs the current password) and password
    (Django's PasswordChangeForm; the session survives the change)."""

    access = SIGNED_IN

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        user = signed_in_user(request)
        try:
            if action == "name":
                user_name_update(
                    principal=self.principal,
                    user=user,
                    first_name=request.POST.get("first_name", ""),
                    last_name=request.POST.get("last_name", ""),
                )
                messages.success(request, "Your name is saved.")
            elif action == "email":
                user_email_change(
                    principal=self.principal,
                    user=user,
                    email=request.POST.get("email", ""),
                    password=request.POST.get("password", ""),
                )
                messages.success(request, f"Your email is now {user.email}.")
            elif action == "password":
                form = PasswordChangeForm(user, request.POST)
                if not form.is_valid():
                    return self._page(request, action=action, password_form=form, status=400)
                user_password_set(
                    principal=self.principal, user=user, password=form.cleaned_data["new_password1"]
                )
                update_session_auth_hash(request, user)
                messages.success(request, "Your password is changed.")
            else:
                raise Invalid(f"unknown action '{action}'")
        except KirokuError as exc:
            errors = {exc.field or "form": exc.message}
            return self._page(request, action=action, errors=errors, status=exc.status)
        return redirect("portal:account")

    def _page(
        self,
        request: HttpRequest,
        *,
        action: str = "",
        errors: dict[str, str] | None = None,
        password_form: PasswordChangeForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "action": action,
            "errors": errors or {},
            "typed": request.POST if action else {},
            "password_form": password_form or PasswordChangeForm(signed_in_user(request)),
        }
        return render(request, "portal/account/account.html", context, status=status)


class TokensView(PortalView):
    """Personal API tokens: create one (shown once), revoke one."""

    access = SIGNED_IN

    def _page(
        self,
        request,
        *,
        created=None,
        error: str | None = None,
        error_field: str | None = None,
        status: int = 200,
    ):
        tokens = token_list_personal(user=request.user)
        typed = request.POST if error else None  # a refused form keeps what was typed
        context = {
            "tokens": tokens,
            "created": created,
            "error": error,
            "error_field": error_field,
            "typed_name": typed.get("name", "") if typed else "",
            "now": timezone.now(),
            **token_expiry_context(typed),
        }
        return render(request, "portal/tokens.html", context, status=status)

    def get(self, request) -> HttpResponse:
        return self._page(request)

    def post(self, request) -> HttpResponse:
        if "revoke" in request.POST:
            token = token_get_personal(user=request.user, token_id=request.POST["revoke"])
            token_revoke(principal=self.principal, token=token)
            messages.success(request, f"Token “{token.name}” revoked.")
            return redirect("portal:tokens")
        try:
            created = token_create(
                principal=self.principal,
                owner=request.user,
                name=request.POST.get("name", ""),
                expires_at=token_expiry_from_form(request.POST),
            )
        except Invalid as exc:
            return self._page(request, error=exc.message, error_field=exc.field, status=400)
        return self._page(request, created=created)
