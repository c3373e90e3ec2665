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
    # Set by the portal's project settings page for its token list.
    role_label: str
    creator_left: bool

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


class Invitation(models.Model):
    """An invitation by email to join Kiroku in some projects with chosen roles.

    Only the SHA-256 of its token is stored; the token itself travels once, in the
    email's link. It can be accepted once, before ``expires_at``, unless revoked.
    """

    email = models.EmailField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The inviter's username as it was, so the row still says who after a deletion.
    invited_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set by the portal's invitations page: (project name, role label) of each grant.
    grant_list: list[tuple[str, str]]

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="invitation_not_accepted_and_revoked",
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email}"

    def is_pending(self, now=None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class InvitationProject(models.Model):
    """One project an invitation grants, with the role the invitee gets there."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="grants")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    role = models.PositiveSmallIntegerField()  # apps.accounts.roles.Role
    # Set by apps.projects.invitations.invitation_grants for display.
    role_label: str

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "project"], name="one_grant_per_invited_project"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitation_id}:{self.project_id}:{self.role}"
