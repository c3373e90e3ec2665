"""Project settings for admins: the project's name and description, its members
and their roles, its service tokens, link sharing, a link to the audit log, and the
place where integrations will go.

Every form posts here with an ``action``; each calls the same service as the API.
A success redirects back with a message (POST/redirect/GET), except a new service
token, whose secret is shown on the answer to the POST itself because it is never
stored. A refusal (the last admin, a taken username, a bad name) is shown inline next
to its form, with the service's status code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from apps.accounts.authentication import service_token_creator_present
from apps.accounts.models import ApiToken
from apps.collab.selectors import share_link_active_count
from apps.collab.services import project_sharing_set
from apps.core.errors import Invalid
from apps.portal.token_expiry import token_expiry_context, token_expiry_from_form
from apps.portal.views.base import ActionFormView
from apps.projects.members import member_add, member_remove, member_role_change
from apps.projects.models import Role
from apps.projects.selectors import member_list, token_get_for_project, token_list_for_project
from apps.projects.services import project_delete, project_update
from apps.projects.tokens import CreatedToken, token_create, token_revoke
from apps.projects.validation import (
    member_add_clean,
    member_role_clean,
    project_update_clean,
    role_clean,
)

TOKEN_ROLES = (Role.VIEWER, Role.MEMBER)


def _service_token_role(token: ApiToken) -> Role:
    """A service token's role: every service token has one (the database's check
    service_token_has_project_and_role), so a None here is a personal token."""
    if token.role is None:
        raise ValueError(f"token {token.pk} is not a service token")
    return Role(token.role)


class ProjectSettingsView(ActionFormView):
    access = Role.ADMIN
    error_field: str | None = None  # the field a refusal names, marked aria-invalid

    def refusal_status(self, request, exc) -> int:
        self.error_field = exc.field
        return super().refusal_status(request, exc)

    def _page(
        self,
        request,
        *,
        errors: dict[str, str] | None = None,
        created: CreatedToken | None = None,
        status: int = 200,
    ) -> HttpResponse:
        tokens = list(token_list_for_project(project=self.project))
        members = list(member_list(project=self.project))
        member_ids = {membership.user_id for membership in members}
        for token in tokens:
            token.role_label = _service_token_role(token).label
            # Stopped by the departed-creator rule (apps/accounts/authentication.py).
            token.creator_left = not self.project.service_tokens_outlive_creator and (
                not service_token_creator_present(
                    token, creator_is_member=token.user_id in member_ids
                )
            )
        admins = [membership for membership in members if membership.role == Role.ADMIN]
        typed = request.POST if errors else None
        context: dict[str, Any] = {
            "project": self.project,
            "members": members,
            # The only admin is offered no "Remove": the service would refuse it.
            "sole_admin_id": admins[0].user_id if len(admins) == 1 else None,
            "tokens": tokens,
            "roles": [role.label for role in Role],
            "token_roles": [role.label for role in TOKEN_ROLES],
            "created": created,
            "created_role": _service_token_role(created.token).label if created else None,
            "errors": errors or {},
            "error_field": self.error_field if errors else None,
            # What was typed, so a refused form keeps it (only on a refusal).
            "form": typed or {},
            **token_expiry_context(typed if errors and "token_create" in errors else None),
            "now": timezone.now(),
            "retention_days": settings.KIROKU_DELETED_RETENTION_DAYS,
            "active_links": share_link_active_count(project=self.project),
        }
        return render(request, "portal/settings.html", context, status=status)

    def _back(self, section: str) -> HttpResponse:
        return redirect(reverse("portal:settings", kwargs={"slug": self.project.slug}) + section)

    def _project(self, request) -> HttpResponse:
        description = request.POST.get("description", "").replace("\r\n", "\n")
        data = project_update_clean(
            {"name": request.POST.get("name", ""), "description": description}
        )
        project_update(principal=self.principal, project=self.project, data=data)
        messages.success(request, "Project details saved.")
        return self._back("#project")

    def _member_add(self, request) -> HttpResponse:
        data = member_add_clean(
            {"username": request.POST.get("username", ""), "role": request.POST.get("role")}
        )
        member_add(
            principal=self.principal, project=self.project, username=data.username, role=data.role
        )
        messages.success(request, f"{data.username} added as {data.role.label}.")
        return self._back("#members")

    def _member_role(self, request) -> HttpResponse:
        username = request.POST.get("username", "")
        role = member_role_clean({"role": request.POST.get("role")}).role
        member_role_change(
            principal=self.principal, project=self.project, username=username, role=role
        )
        if username == request.user.username and role < Role.ADMIN:
            messages.success(request, f"You are now {role.label} in {self.project.name}.")
            return redirect("portal:runs", slug=self.project.slug)
        messages.success(request, f"{username} is now {role.label}.")
        return self._back("#members")

    def _member_remove(self, request) -> HttpResponse:
        username = request.POST.get("username", "")
        member_remove(principal=self.principal, project=self.project, username=username)
        if username == request.user.username:
            messages.success(request, f"You left {self.project.name}.")
            return redirect("portal:projects")
        messages.success(request, f"{username} removed from the project.")
        return self._back("#members")

    def _token_create(self, request) -> HttpResponse:
        created = token_create(
            principal=self.principal,
            owner=request.user,
            name=request.POST.get("name", ""),
            project=self.project,
            role=role_clean(request.POST.get("role"), allowed=TOKEN_ROLES),
            expires_at=token_expiry_from_form(request.POST),
        )
        return self._page(request, created=created)

    def _token_revoke(self, request) -> HttpResponse:
        token = token_get_for_project(project=self.project, token_id=request.POST.get("token", ""))
        token_revoke(principal=self.principal, token=token)
        messages.success(request, f"Token “{token.name}” revoked.")
        return self._back("#tokens")

    def _service_tokens(self, request) -> HttpResponse:
        outlive = request.POST.get("outlive_creator") == "on"
        data = project_update_clean({"service_tokens_outlive_creator": outlive})
        project_update(principal=self.principal, project=self.project, data=data)
        if outlive:
            messages.success(request, "Service tokens now keep working after their creator leaves.")
        else:
            messages.success(
                request, "Service tokens now stop working when their creator leaves the project."
            )
        return self._back("#tokens")

    def _sharing(self, request) -> HttpResponse:
        enabled = request.POST.get("sharing") == "on"
        project_sharing_set(principal=self.principal, project=self.project, enabled=enabled)
        if enabled:
            messages.success(request, "Share links are turned on.")
        else:
            messages.success(request, "Share links are turned off: every link stopped working.")
        return self._back("#share-links")

    def _project_delete(self, request) -> HttpResponse:
        """Soft-delete the project, as ``DELETE /projects/{slug}`` does (audited as
        ``project.delete``; restorable until purged). The slug must be typed to confirm."""
        typed = request.POST.get("confirm_slug", "").strip()
        if typed != self.project.slug:
            raise Invalid(f"type the slug {self.project.slug} to confirm", field="confirm_slug")
        project_delete(principal=self.principal, project=self.project)
        messages.success(
            request,
            f"Project {self.project.name} ({self.project.slug}) is deleted. An admin can restore "
            f"it with POST /api/v1/projects/{self.project.slug}/restore for "
            f"{settings.KIROKU_DELETED_RETENTION_DAYS} days; after that it is purged.",
        )
        return redirect("portal:projects")

    HANDLERS: dict[str, Callable[[ProjectSettingsView, Any], HttpResponse]] = {
        "sharing": _sharing,
        "project_delete": _project_delete,
        "project": _project,
        "member_add": _member_add,
        "member_role": _member_role,
        "member_remove": _member_remove,
        "token_create": _token_create,
        "token_revoke": _token_revoke,
        "service_tokens": _service_tokens,
    }
