"""Writes for projects and memberships. Each checks permission, runs in one
transaction and records its audit event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Forbidden, Invalid
from apps.core.hooks import Hook
from apps.projects.access import require_role
from apps.projects.comparison import baseline_json
from apps.projects.models import Membership, Project, Role
from apps.projects.validation import OUTLIVE, UNCHANGED, ProjectCreateIn, ProjectUpdateIn


def project_create(*, principal: Principal, data: ProjectCreateIn) -> Project:
    """Create a project (a person only: Forbidden for a service token); its creator
    becomes its admin. Conflict naming ``slug`` when the slug is taken."""
    creator = principal.person
    if creator is None:
        raise Forbidden("only a user (personal token) can create projects")
    slug = data.slug
    try:
        with transaction.atomic():
            project = Project.objects.create(
                slug=slug, name=data.name, description=data.description, created_by=creator
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


def project_update(*, principal: Principal, project: Project, data: ProjectUpdateIn) -> Project:
    """Change a project's settings (admins); what ``data`` leaves unset stays as it is.
    Invalid naming ``baseline`` when a pinned baseline is not a live run of the
    project. Whether service tokens outlive their creator is recorded as its own audit
    event (``settings.service_tokens``), the rest as ``settings.update``."""
    require_role(principal, project, Role.ADMIN)
    changes: dict[str, Any] = {}
    if data.name is not None and data.name != project.name:
        changes["name"] = data.name
    if data.description is not None and data.description != project.description:
        changes["description"] = data.description
    if data.baseline is not UNCHANGED:
        baseline = data.baseline
        if baseline is not None and baseline.mode == "pinned":
            run_exists = project.runs.filter(public_id=baseline.run, deleted_at__isnull=True)
            if not run_exists.exists():
                raise Invalid("baseline.run must be a run of this project", field="baseline")
        stored = baseline_json(baseline)
        if stored != project.baseline:
            changes["baseline"] = stored
    if data.primary_metrics is not None and data.primary_metrics != project.primary_metrics:
        changes["primary_metrics"] = data.primary_metrics
    outlive = data.service_tokens_outlive_creator
    if outlive is not None and outlive != project.service_tokens_outlive_creator:
        changes[OUTLIVE] = outlive
    if not changes:
        return project
    with transaction.atomic():
        before = {field: getattr(project, field) for field in changes}
        for field, value in changes.items():
            setattr(project, field, value)
        project.save(update_fields=list(changes))
        if OUTLIVE in changes:
            audit_record(
                principal=principal,
                action=audit_actions.SETTINGS_SERVICE_TOKENS,
                project=project,
                metadata={
                    "before": {OUTLIVE: before.pop(OUTLIVE)},
                    "after": {OUTLIVE: changes.pop(OUTLIVE)},
                },
                target_type="project",
                target_id=project.pk,
                target_label=project.slug,
            )
        if changes:
            audit_record(
                principal=principal,
                action=audit_actions.SETTINGS_UPDATE,
                project=project,
                metadata={"before": before, "after": changes},
                target_type="project",
                target_id=project.pk,
                target_label=project.slug,
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


# Called inside the transaction that hard-deletes a project, with ``project=``, before
# its rows go: apps above projects (the artifact store) release what they keep for it.
project_purge_hooks: Hook[Callable[..., object]] = Hook("project purge")


def project_purge_deleted(*, older_than_days: int) -> int:
    """Hard-delete projects soft-deleted more than ``older_than_days`` ago. Returns
    how many were purged. The audit log keeps its rows (it has no foreign keys)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
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
            for release in project_purge_hooks:
                release(project=project)
            project.delete()
        purged += 1
    return purged
