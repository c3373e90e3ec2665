"""The roles a person or a service token can hold in a project.

Defined here, below ``projects``, because an API token carries a role: memberships
(``apps.projects.models.Membership``) and service tokens share this one scale.
"""

from __future__ import annotations

from django.db import models


class Role(models.IntegerChoices):
    """Ordered: each role can do everything the ones below it can."""

    VIEWER = 1, "viewer"
    MEMBER = 2, "member"
    ADMIN = 3, "admin"

    @classmethod
    def parse(cls, name: str) -> Role | None:
        return {r.label: r for r in cls}.get(str(name).lower())
