"""Writes for saved comparisons: a named set of runs of one project."""

from __future__ import annotations

from django.db import transaction

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.collab.models import (
    COMPARISON_MAX_RUNS,
    COMPARISON_MIN_RUNS,
    COMPARISON_NAME_MAX_LENGTH,
    SavedComparison,
)
from apps.collab.services.common import maker_fields, target_audit
from apps.core.errors import Invalid
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.selectors import run_list_for_project


def comparison_create(
    *, principal: Principal, project: Project, name: object, run_ids: object
) -> SavedComparison:
    """Save a comparison of 2 to 20 live runs of ``project`` (members and admins) under
    ``name`` (1 to 100 characters). Repeated ids count once; the order is kept."""
    require_role(principal, project, Role.MEMBER)
    maker = maker_fields(principal, "created_by")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must be non-empty text", field="name")
    name = name.strip()
    if len(name) > COMPARISON_NAME_MAX_LENGTH:
        raise Invalid(
            f"name must be at most {COMPARISON_NAME_MAX_LENGTH} characters (got {len(name)})",
            field="name",
        )
    if not isinstance(run_ids, list) or not all(isinstance(x, str) for x in run_ids):
        raise Invalid("runs must be a list of run ids", field="runs")
    ids = list(dict.fromkeys(x.strip() for x in run_ids if x.strip()))
    if not COMPARISON_MIN_RUNS <= len(ids) <= COMPARISON_MAX_RUNS:
        raise Invalid(
            f"a comparison holds {COMPARISON_MIN_RUNS} to {COMPARISON_MAX_RUNS} runs "
            f"(got {len(ids)})",
            field="runs",
        )
    live = set(
        run_list_for_project(project=project)
        .filter(public_id__in=ids)
        .values_list("public_id", flat=True)
    )
    if len(live) != len(ids):
        raise Invalid("every run must be a live run of this project", field="runs")
    with transaction.atomic():
        comparison = SavedComparison.objects.create(
            project=project,
            name=name,
            run_ids=ids,
            **maker,
        )
        target_audit(
            principal, comparison, audit_actions.COMPARISON_CREATE, comparison.pk, runs=ids
        )
    return comparison
