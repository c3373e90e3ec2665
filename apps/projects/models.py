from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from apps.accounts.roles import Role

__all__ = ["SLUG_RE", "Membership", "Project", "ProjectQuerySet", "Role"]


SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class ProjectQuerySet(models.QuerySet):
    def alive(self) -> ProjectQuerySet:
        return self.filter(deleted_at__isnull=True)


class Project(models.Model):
    # The principal's roles here, memoised on this instance by apps.projects.access.
    _role_cache: dict[int, Role | None]
    slug = models.CharField(max_length=64, unique=True, validators=[RegexValidator(SLUG_RE)])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Admins may turn share links off; existing links then stop working at once.
    sharing_enabled = models.BooleanField(default=True)
    # Off: a service token stops authenticating once its creator has no role in the
    # project (apps/accounts/authentication.py); admins may let tokens outlive them.
    service_tokens_outlive_creator = models.BooleanField(default=False)
    # What new runs are compared with, and the metrics that matter most
    # (apps/projects/comparison.py validates both).
    baseline = models.JSONField(default=dict, blank=True)
    primary_metrics = models.JSONField(default=list, blank=True)
    # Set by portal pages: the projects list's run count, the invitation form's role.
    run_count: int
    chosen_role: str

    objects = ProjectQuerySet.as_manager()

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.PositiveSmallIntegerField(choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}:{self.get_role_display()}"
