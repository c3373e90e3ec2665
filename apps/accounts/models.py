from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A Kiroku user. Custom from the first migration so it can grow without pain."""


class TokenKind(models.TextChoices):
    PERSONAL = "personal", "personal"
    SERVICE = "service", "service"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the secret is shown once.

    A personal token acts as its user. A service token acts only on its one
    project, with its own role (viewer or member), whatever its creator can do.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=TokenKind.choices)
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="service_tokens",
    )
    role = models.PositiveSmallIntegerField(null=True, blank=True)
    prefix = models.CharField(max_length=12, help_text="first characters, for recognising it")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="service_token_has_project_and_role",
                condition=(
                    models.Q(kind="personal", project__isnull=True, role__isnull=True)
                    | models.Q(kind="service", project__isnull=False, role__isnull=False)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now
