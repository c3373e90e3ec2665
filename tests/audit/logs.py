"""Writing audit events straight into a project's log, for the audit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.audit.models import ActorType, AuditEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Log:
    """Writes events straight into a project's log, one minute apart by default (as
    audit_record stamps them: created_at grows with id)."""

    def __init__(self, project):
        self.project = project
        self.clock = T0

    def add(
        self,
        action: str = "run.create",
        *,
        user: str = "alice_admin",
        token: str = "",
        target: tuple[str, str, str] = ("run", "r1", "run one"),
        at: datetime | None = None,
        project=None,
        **extra,
    ) -> AuditEvent:
        self.clock = at or self.clock + timedelta(minutes=1)
        project = project or self.project
        if user == "system":
            actor = {"actor_type": ActorType.SYSTEM, "actor_label": "system"}
        elif token:
            actor = {"actor_type": ActorType.TOKEN, "actor_label": token}
        else:
            actor = {"actor_type": ActorType.USER, "actor_label": user}
        return AuditEvent.objects.create(
            created_at=self.clock,
            **actor,
            actor_user_label="" if user == "system" else user,
            action=action,
            project_id=project.pk,
            project_label=project.slug,
            target_type=target[0],
            target_id=target[1],
            target_label=target[2],
            **extra,
        )
