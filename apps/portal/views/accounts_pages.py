"""Team accounts in the portal: site admins invite people by email, invitees accept
with a one-time link, anyone resets a forgotten password by email, open sign-up
(only behind KIROKU_OPEN_SIGNUP), and each user's own account page.

Nothing here lists users: an invitation names an email, and the account page shows
only its own user.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from apps.accounts.invitations import (
    AcceptedInvitation,
    account_exists_for_email,
    email_mask,
    invitation_accept,
    invitation_accept_with_signup,
    invitation_create,
    invitation_email_matches,
    invitation_get_pending,
    invitation_grants,
    invitation_list_pending,
    invitation_revoke,
)
from apps.accounts.models import Invitation
from apps.accounts.services import (
    user_email_change,
    user_name_update,
    user_password_set,
    user_signup,
)
from apps.core.errors import Forbidden, Invalid, KirokuError, NotFound
from apps.core.throttles import password_reset_email_allowed, password_reset_wait
from apps.portal.views.base import ANYONE, SIGNED_IN, STAFF, PortalView, portal_principal
from apps.projects.models import Project, Role
from apps.projects.selectors import project_list_for_principal

# --- site admins: invitations ----------------------------------------------------------


class InvitationsView(PortalView):
    """Invite someone by email into projects with a role in each; list the pending
    invitations and revoke them."""

    access = STAFF

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "revoke":
            return self._revoke(request)
        if action != "create":
            return self._page(request, error=f"unknown action '{action}'", status=400)
        projects = list(project_list_for_principal(principal=self.principal))
        email = request.POST.get("email", "").strip()
        chosen: dict[str, str] = {}
        try:
            grants = []
            for project in projects:
                value = request.POST.get(f"role-{project.slug}", "")
                if not value:
                    continue
                chosen[project.slug] = value
                role = Role.parse(value)
                if role is None:
                    raise Invalid(f"choose viewer, member or admin for {project.name}")
                grants.append((project, role))
            created = invitation_create(principal=self.principal, email=email, grants=grants)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except KirokuError as exc:
            form = {"email": email, "roles": chosen}
            return self._page(
                request, projects=projects, form=form, error=exc.message, status=exc.status
            )
        email = created.invitation.email
        if created.email_error:
            messages.error(
                request,
                f"The invitation of {email} was saved but the email was not sent "
                f"({created.email_error}). Revoke it and invite again once email works.",
            )
        else:
            messages.success(request, f"Invitation sent to {email}.")
        return redirect("portal:invitations")

    def _revoke(self, request: HttpRequest) -> HttpResponse:
        raw = request.POST.get("invitation", "")
        invitation = None
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            invitation = Invitation.objects.filter(pk=int(raw)).first()
        if invitation is None:
            raise Http404("invitation not found")
        try:
            invitation_revoke(principal=self.principal, invitation=invitation)
        except KirokuError as exc:
            return self._page(request, revoke_error=exc.message, status=exc.status)
        messages.success(request, f"The invitation of {invitation.email} is revoked.")
        return redirect("portal:invitations")

    def _page(
        self,
        request: HttpRequest,
        *,
        projects: list[Project] | None = None,
        form: dict[str, Any] | None = None,
        error: str | None = None,
        revoke_error: str | None = None,
        status: int = 200,
    ) -> HttpResponse:
        if projects is None:
            projects = list(project_list_for_principal(principal=self.principal))
        form = form or {"email": "", "roles": {}}
        for project in projects:
            project.chosen_role = form["roles"].get(project.slug, "")
        pending = list(invitation_list_pending(principal=self.principal))
        for invitation in pending:
            invitation.grant_list = sorted(
                (
                    (grant.project.name, Role(grant.role).label)
                    for grant in invitation.grants.all()
                    if grant.project.deleted_at is None
                ),
            )
        context = {
            "projects": projects,
            "roles": [role.label for role in Role],
            "pending": pending,
            "form": form,
            "error": error,
            "revoke_error": revoke_error,
        }
        return render(request, "portal/account/invitations.html", context, status=status)


# --- the invitee -----------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class InviteView(PortalView):
    """``/invite/<token>``: a token that opens no pending invitation is the 404 page,
    whatever the reason. Signed in with the invited email, the user joins with this
    account; signed in with another, the page names the invited address (masked) and
    offers to sign out, and joining is refused (403, nothing changes). Signed out, they
    create the invited address's account here, or are told to sign in when it has one."""

    access = ANYONE

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return self._page(request, self._invitation(token))

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self._invitation(token)
        action = request.POST.get("action", "")
        try:
            if action == "join":
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                accepted = invitation_accept(principal=portal_principal(request), token=token)
            elif action == "signup":
                if request.user.is_authenticated:
                    raise Invalid("you are signed in: sign out first to create the invited account")
                return self._signup(request, invitation, token)
            else:
                raise Invalid(f"unknown action '{action}'")
        except NotFound:
            raise Http404("invitation not found") from None
        except KirokuError as exc:
            return self._page(
                request, invitation, errors={exc.field or "form": exc.message}, status=exc.status
            )
        return self._landed(request, accepted)

    def _signup(self, request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
        username = request.POST.get("username", "").strip()
        password = request.POST.get("password1", "")
        form = {"username": username}
        if password != request.POST.get("password2", ""):
            errors = {"password2": "the two passwords differ"}
            return self._page(request, invitation, errors=errors, form=form, status=400)
        meta = request.META
        try:
            accepted = invitation_accept_with_signup(
                token=token,
                username=username,
                password=password,
                ip=meta.get("REMOTE_ADDR") or None,
                user_agent=(meta.get("HTTP_USER_AGENT") or "")[:500],
            )
        except NotFound:
            raise Http404("invitation not found") from None
        except KirokuError as exc:
            errors = {exc.field or "form": exc.message}
            return self._page(request, invitation, errors=errors, form=form, status=exc.status)
        login(request, accepted.user)
        return self._landed(request, accepted)

    @staticmethod
    def _invitation(token: str) -> Invitation:
        try:
            return invitation_get_pending(token=token)
        except NotFound:
            raise Http404("invitation not found") from None

    @staticmethod
    def _landed(request: HttpRequest, accepted: AcceptedInvitation) -> HttpResponse:
        if accepted.joined:
            names = ", ".join(f"{p.name} ({r.label})" for p, r in accepted.joined)
            messages.success(request, f"Welcome, {accepted.user.username}. You joined {names}.")
        else:
            messages.success(request, f"Welcome, {accepted.user.username}.")
        for project, role in accepted.kept:
            messages.info(
                request, f"You were already {role.label} in {project.name}; that is unchanged."
            )
        return redirect("portal:projects")

    def _page(
        self,
        request: HttpRequest,
        invitation: Invitation,
        *,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        signed_in = request.user.is_authenticated
        same_email = signed_in and invitation_email_matches(
            invitation=invitation, email=request.user.email
        )
        context = {
            "invitation": invitation,
            # Whole to its addressee (or whoever holds the link, signed out); masked to
            # another account.
            "invited_email": email_mask(invitation.email)
            if signed_in and not same_email
            else invitation.email,
            "grants": invitation_grants(invitation=invitation),
            "same_email": same_email,
            # Only the holder of a valid invitation learns this, about their own address.
            "account_exists": not signed_in and account_exists_for_email(invitation.email),
            "errors": errors or {},
            "form": form or {},
        }
        return render(request, "portal/account/invite.html", context, status=status)


# --- open sign-up ----------------------------------------------------------------------


class SignUpView(PortalView):
    """``/signup``: the 404 page unless KIROKU_OPEN_SIGNUP is on."""

    access = ANYONE

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
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


# --- the user's own account ------------------------------------------------------------


class AccountView(PortalView):
    """``/account``: the user's name, email (needs the current password) and password
    (Django's PasswordChangeForm; the session survives the change)."""

    access = SIGNED_IN

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        user = request.user
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
            "password_form": password_form or PasswordChangeForm(request.user),
        }
        return render(request, "portal/account/account.html", context, status=status)


# --- password reset by email (Django's views, our templates) ---------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an email; the answer is the same page whether or not it has an account
    (Django sends mail only to active accounts with a usable password).

    Throttled (apps.core.throttles): requests per client address over
    ``password_reset`` are answered 429 with the form and the wait; an email address
    asked for more than ``password_reset_email`` allows gets the same "check your
    email" page as any other, and no email. That refusal is silent because the page
    must read the same for every address: a 429 there would tell a stranger that
    someone asked for this address recently, and the person it protects already has
    the emails sent before it."""

    access = ANYONE
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-sent")

    @property
    def extra_email_context(self) -> dict[str, str]:
        return {"base_url": settings.KIROKU_BASE_URL}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = password_reset_wait(request)
        if refused is None:
            return super().post(request, *args, **kwargs)
        wait, message = refused
        messages.error(request, message)
        form = self.get_form_class()(initial={"email": request.POST.get("email", "")[:254]})
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        if not password_reset_email_allowed(form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    access = ANYONE
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    access = ANYONE
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    access = ANYONE
    template_name = "registration/password_reset_complete.html"
