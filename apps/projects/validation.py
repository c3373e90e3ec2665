"""Checking what clients send about projects and their members. The API's views and
the portal's forms call the same functions, so both enforce one set of rules; each
returns a frozen dataclass of clean values or raises Invalid naming the field and the
limit. What needs the database (a taken slug, an unknown username, a pinned baseline
run of another project) is the services' to check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal

from apps.core.errors import Invalid
from apps.core.validation import json_object_clean
from apps.projects.comparison import Baseline, baseline_parse, primary_metrics_parse
from apps.projects.models import SLUG_RE, Role

PROJECT_NAME_MAX = 200
PROJECT_DESCRIPTION_MAX = 10_000
USERNAME_MAX = 150
# Audited apart from the other settings (settings.service_tokens): it decides who
# may keep acting in the project.
OUTLIVE = "service_tokens_outlive_creator"


class Unchanged(Enum):
    """A setting that a change leaves as it is, where None is a value it may set."""

    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


def _text(value: Any, field: str, *, maximum: int, minimum: int = 1) -> str:
    """``value`` without surrounding whitespace, ``minimum`` to ``maximum`` characters."""
    limits = f"at most {maximum}" if minimum == 0 else f"{minimum} to {maximum}"
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string of {limits} characters", field=field)
    if not minimum <= len(value.strip()) <= maximum:
        raise Invalid(f"{field} must be {limits} characters", field=field)
    return value.strip()


def _required(body: dict[str, Any], *fields: str) -> None:
    for field in fields:
        if field not in body:
            raise Invalid(f"{field} is required", field=field)


def role_clean(value: Any, *, allowed: tuple[Role, ...] = tuple(Role)) -> Role:
    """A role by its name (``viewer``, ``member``, ``admin``, any case), one of
    ``allowed``."""
    role = Role.parse(value) if isinstance(value, str) else None
    if role is None or role not in allowed:
        raise Invalid(f"choose a role: {', '.join(r.label for r in allowed)}", field="role")
    return role


# -- projects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectCreateIn:
    slug: str
    name: str
    description: str = ""


def project_create_clean(data: Any) -> ProjectCreateIn:
    """``slug`` (1 to 64 lowercase letters, digits and hyphens), ``name`` (1 to 200
    characters) and ``description`` (optional, at most 10,000); text is stripped of
    surrounding whitespace. Other fields are ignored."""
    body = json_object_clean(data)
    _required(body, "slug", "name")
    slug = body["slug"].strip() if isinstance(body["slug"], str) else None
    if slug is None or not re.fullmatch(SLUG_RE, slug):
        raise Invalid(
            "slug must be 1 to 64 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit",
            field="slug",
        )
    return ProjectCreateIn(
        slug=slug,
        name=_text(body["name"], "name", maximum=PROJECT_NAME_MAX),
        description=_text(
            body.get("description", ""),
            "description",
            minimum=0,
            maximum=PROJECT_DESCRIPTION_MAX,
        ),
    )


@dataclass(frozen=True)
class ProjectUpdateIn:
    """A change of a project's settings: None (UNCHANGED for ``baseline``, where None
    is "no baseline") leaves a setting as it is."""

    name: str | None = None
    description: str | None = None
    baseline: Baseline | Literal[Unchanged.UNCHANGED] | None = UNCHANGED
    primary_metrics: list[str] | None = None
    service_tokens_outlive_creator: bool | None = None


def project_update_clean(data: Any) -> ProjectUpdateIn:
    """Any of ``name``, ``description`` (as for a new project), ``baseline`` (see
    ``apps.projects.comparison.baseline_parse``; null or {} for none),
    ``primary_metrics`` (at most 10 metric keys; null for none) and
    ``service_tokens_outlive_creator`` (true, false, or null to leave it). Other fields
    are ignored."""
    body = json_object_clean(data)
    outlive = body.get(OUTLIVE)
    if outlive is not None and type(outlive) is not bool:
        raise Invalid(f"{OUTLIVE} must be true or false", field=OUTLIVE)
    return ProjectUpdateIn(
        name=_text(body["name"], "name", maximum=PROJECT_NAME_MAX) if "name" in body else None,
        description=(
            _text(body["description"], "description", minimum=0, maximum=PROJECT_DESCRIPTION_MAX)
            if "description" in body
            else None
        ),
        baseline=baseline_parse(body["baseline"]) if "baseline" in body else UNCHANGED,
        primary_metrics=(
            primary_metrics_parse(body["primary_metrics"]) if "primary_metrics" in body else None
        ),
        service_tokens_outlive_creator=outlive,
    )


# -- members ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberAddIn:
    username: str
    role: Role


def member_add_clean(data: Any) -> MemberAddIn:
    """``username`` (an active user's) and ``role``. Other fields are ignored."""
    body = json_object_clean(data)
    _required(body, "username", "role")
    return MemberAddIn(
        username=_text(body["username"], "username", maximum=USERNAME_MAX),
        role=role_clean(body["role"]),
    )


@dataclass(frozen=True)
class MemberRoleIn:
    role: Role


def member_role_clean(data: Any) -> MemberRoleIn:
    """The member's new ``role``. Other fields are ignored."""
    body = json_object_clean(data)
    _required(body, "role")
    return MemberRoleIn(role=role_clean(body["role"]))
