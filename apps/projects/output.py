"""How projects and their members look on the wire: each output function returns a
TypedDict, which the OpenAPI schema documents (apps.core.schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict

from apps.projects.models import Membership, Project, Role

ROLE_NAMES = "`viewer`, `member` or `admin`"


class ProjectOut(TypedDict):
    """A project and its settings."""

    slug: str
    name: str
    description: str
    created_at: datetime
    deleted_at: Annotated[datetime | None, "set while the project is deleted (restorable)"]
    baseline: Annotated[
        dict[str, Any],
        'how runs are compared: {"mode": "best", "metric", "goal"}, {"mode": "branch", '
        '"branch"}, {"mode": "pinned", "run"}, or {} for none',
    ]
    primary_metrics: Annotated[list[str], "the metric keys shown first"]
    service_tokens_outlive_creator: Annotated[
        bool, "whether service tokens keep working after their creator leaves"
    ]
    role: NotRequired[Annotated[str, f"the caller's role: {ROLE_NAMES}"]]


class MemberOut(TypedDict):
    """A member of a project."""

    username: str
    role: Annotated[str, ROLE_NAMES]
    added_at: datetime


def project_out(project: Project, role: Role | None = None) -> ProjectOut:
    body: ProjectOut = {
        "slug": project.slug,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at,
        "deleted_at": project.deleted_at,
        "baseline": project.baseline,
        "primary_metrics": project.primary_metrics,
        "service_tokens_outlive_creator": project.service_tokens_outlive_creator,
    }
    if role is not None:
        body["role"] = role.label
    return body


def member_out(membership: Membership) -> MemberOut:
    return {
        "username": membership.user.username,
        "role": Role(membership.role).label,
        "added_at": membership.created_at,
    }
