"""Invitations in the portal: site admins invite people by email into projects, with a
role in each, and the invitee accepts with a one-time link (joining with the account
of the invited address, or creating it there).

Nothing here lists users: an invitation names an email.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from apps.accounts.models import Invitation
from apps.core.errors import Forbidden, Invalid, KirokuError, NotFound
from apps.portal.views.base import ANYONE, STAFF, PortalView, portal_principal
from apps.projects.invitations import (
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
from apps.projects.models import Project, Role
from apps.projects.selectors import invitation_get, project_list_for_principal

# --- site admins -----------------------------------------------------------------------


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
        invitation = invitation_get(invitation_id=request.POST.get("invitation", ""))
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
        same_email = request.user.is_authenticated and invitation_email_matches(
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
