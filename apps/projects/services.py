"""Writes for projects and memberships. Each checks permission, runs in one
transaction and records its audit event."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.artifacts.cleanup import artifacts_release_for_project
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Forbidden, Invalid, not_found
from apps.projects.access import require_role
from apps.projects.comparison import baseline_parse, primary_metrics_parse
from apps.projects.models import SLUG_RE, Membership, Project, Role

UNSET: Any = object()
PROJECT_NAME_MAX = 200
PROJECT_DESCRIPTION_MAX = 10_000
# Audited apart from the other settings (settings.service_tokens): it decides who
# may keep acting in the project.
OUTLIVE = "service_tokens_outlive_creator"


def _validate_project_fields(*, name: str | None, description: str | None) -> None:
    if name is not None and not (1 <= len(name.strip()) <= PROJECT_NAME_MAX):
        raise Invalid(f"name must be 1 to {PROJECT_NAME_MAX} characters", field="name")
    if description is not None and len(description) > PROJECT_DESCRIPTION_MAX:
        raise Invalid(
            f"description must be at most {PROJECT_DESCRIPTION_MAX} characters",
            field="description",
        )


def project_create(*, principal: Principal, slug: str, name: str, description: str = "") -> Project:
    """Create a project; its creator becomes its admin."""
    creator = principal.person
    if creator is None:
        raise Forbidden("only a user (personal token) can create projects")
    if not isinstance(slug, str) or not re.fullmatch(SLUG_RE, slug):
        raise Invalid(
            "slug must be 1 to 64 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit",
            field="slug",
        )
    _validate_project_fields(name=name, description=description)
    try:
        with transaction.atomic():
            project = Project.objects.create(
                slug=slug, name=name.strip(), description=description, created_by=creator
            )
            Membership.objects.create(project=project, user=creator, role=Role.ADMIN)
            audit_record(
                principal=principal,
                action=audit_actions.PROJECT_CREATE,
                project=project,
                target_type="project",
                target_id=project.pk,
                target_label=project.slug,
            )
    except IntegrityError:
        raise Conflict(f"slug '{slug}' is taken; choose another", field="slug") from None
    return project


def project_update(
    *,
    principal: Principal,
    project: Project,
    name: str | None = None,
    description: str | None = None,
    baseline: object = UNSET,
    primary_metrics: object = UNSET,
    service_tokens_outlive_creator: bool | None = None,
) -> Project:
    """Change a project's settings (admins). Arguments left out stay as they are.
    Whether service tokens outlive their creator is recorded as its own audit event
    (``settings.service_tokens``), the rest as ``settings.update``."""
    require_role(principal, project, Role.ADMIN)
    _validate_project_fields(name=name, description=description)
    if (
        service_tokens_outlive_creator is not None
        and type(service_tokens_outlive_creator) is not bool
    ):
        raise Invalid(f"{OUTLIVE} must be true or false", field=OUTLIVE)
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != project.name:
        changes["name"] = name.strip()
    if description is not None and description != project.description:
        changes["description"] = description
    if baseline is not UNSET:
        parsed = baseline_parse(baseline)
        if parsed.get("mode") == "pinned":
            run_exists = project.runs.filter(public_id=parsed["run"], deleted_at__isnull=True)
            if not run_exists.exists():
                raise Invalid("baseline.run must be a run of this project", field="baseline")
        if parsed != project.baseline:
            changes["baseline"] = parsed
    if primary_metrics is not UNSET:
        parsed_metrics = primary_metrics_parse(primary_metrics)
        if parsed_metrics != project.primary_metrics:
            changes["primary_metrics"] = parsed_metrics
    if (
        service_tokens_outlive_creator is not None
        and service_tokens_outlive_creator != project.service_tokens_outlive_creator
    ):
        changes[OUTLIVE] = service_tokens_outlive_creator
    if not changes:
        return project
    with transaction.atomic():
        before = {field: getattr(project, field) for field in changes}
        for field, value in changes.items():
            setattr(project, field, value)
        project.save(update_fields=list(changes))
        audited = {"target_type": "project", "target_id": project.pk, "target_label": project.slug}
        if OUTLIVE in changes:
            audit_record(
                principal=principal,
                action=audit_actions.SETTINGS_SERVICE_TOKENS,
                project=project,
                metadata={
                    "before": {OUTLIVE: before.pop(OUTLIVE)},
                    "after": {OUTLIVE: changes.pop(OUTLIVE)},
                },
                **audited,
            )
        if changes:
            audit_record(
                principal=principal,
                action=audit_actions.SETTINGS_UPDATE,
                project=project,
                metadata={"before": before, "after": changes},
                **audited,
            )
    return project


def project_delete(*, principal: Principal, project: Project) -> Project:
    """Soft-delete: the project and its runs disappear from every read until restored
    or purged after the retention period."""
    return _project_set_deleted(principal=principal, project=project, deleted=True)


def project_restore(*, principal: Principal, project: Project) -> Project:
    return _project_set_deleted(principal=principal, project=project, deleted=False)


def _project_set_deleted(*, principal: Principal, project: Project, deleted: bool) -> Project:
    require_role(principal, project, Role.ADMIN, allow_deleted=not deleted)
    if (project.deleted_at is not None) == deleted:
        return project
    with transaction.atomic():
        project.deleted_at = timezone.now() if deleted else None
        project.save(update_fields=["deleted_at"])
        audit_record(
            principal=principal,
            action=audit_actions.PROJECT_DELETE if deleted else audit_actions.PROJECT_RESTORE,
            project=project,
            target_type="project",
            target_id=project.pk,
            target_label=project.slug,
        )
    return project


def project_purge_deleted(*, older_than_days: int) -> int:
    """Hard-delete projects soft-deleted more than ``older_than_days`` ago. Returns
    how many were purged. The audit log keeps its rows (it has no foreign keys)."""
    cutoff = timezone.now() - timezone.timedelta(days=older_than_days)
    purged = 0
    for project in Project.objects.filter(deleted_at__lte=cutoff):
        with transaction.atomic():
            audit_record(
                principal=Principal.system(),
                action=audit_actions.PROJECT_PURGE,
                project=project,
                target_type="project",
                target_id=project.pk,
                target_label=project.slug,
            )
            artifacts_release_for_project(project=project)
            project.delete()
        purged += 1
    return purged


def _admin_count(project: Project) -> int:
    """How many admins the project has, locking their rows so two concurrent
    demotions cannot both pass the last-admin check."""
    return len(
        Membership.objects.select_for_update()
        .filter(project=project, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )


def member_add(*, principal: Principal, project: Project, username: str, role: Role) -> Membership:
    require_role(principal, project, Role.ADMIN)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise Invalid(f"no user named '{username}'", field="username")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
            audit_record(
                principal=principal,
                action=audit_actions.MEMBER_ADD,
                project=project,
                target_type="user",
                target_id=user.pk,
                target_label=user.username,
                metadata={"role": Role(role).label},
            )
    except IntegrityError:
        raise Conflict(
            f"'{username}' is already a member; change the role with PATCH", field="username"
        ) from None
    return membership


def _membership_for(project: Project, username: str) -> Membership:
    membership = (
        Membership.objects.select_related("user")
        .filter(project=project, user__username=username)
        .first()
    )
    if membership is None:
        raise not_found("member")
    return membership


def member_role_change(
    *, principal: Principal, project: Project, username: str, role: Role
) -> Membership:
    require_role(principal, project, Role.ADMIN)
    with transaction.atomic():
        membership = _membership_for(project, username)
        if membership.role == role:
            return membership
        if membership.role == Role.ADMIN and _admin_count(project) == 1:
            raise Conflict(
                "a project keeps at least one admin; promote another first", field="role"
            )
        before = Role(membership.role).label
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            principal=principal,
            action=audit_actions.MEMBER_ROLE_CHANGE,
            project=project,
            target_type="user",
            target_id=membership.user_id,
            target_label=membership.user.username,
            metadata={"before": before, "after": Role(role).label},
        )
    return membership


def member_remove(*, principal: Principal, project: Project, username: str) -> None:
    require_role(principal, project, Role.ADMIN)
    with transaction.atomic():
        membership = _membership_for(project, username)
        if membership.role == Role.ADMIN and _admin_count(project) == 1:
            raise Conflict(
                "a project keeps at least one admin; promote another first", field="username"
            )
        audit_record(
            principal=principal,
            action=audit_actions.MEMBER_REMOVE,
            project=project,
            target_type="user",
            target_id=membership.user_id,
            target_label=membership.user.username,
            metadata={"role": Role(membership.role).label},
        )
        membership.delete()
