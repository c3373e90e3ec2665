"""What the collab writes share: the target a comment or share link hangs on, the
maker a new row names, and the audit event recorded against the target.

Comments and share links have a target: a run or a saved comparison. The project, the
permission check and the audit event's target all come from it.

Each row has one maker: a person (``author``/``created_by``) or a service token
(``created_by_token``), never both. "Its author", "its creator" in these services mean
that maker, as ``Principal.owns`` decides: a service token's creator does not own what
the token made, and the token does not own what its creator made."""

from __future__ import annotations

from apps.accounts.principal import Principal
from apps.audit.services import audit_record
from apps.collab.models import SavedComparison
from apps.core.errors import Forbidden
from apps.runs.models import Run

Target = Run | SavedComparison


def target_fields(target: Target) -> dict[str, object]:
    """The fields naming ``target`` on a comment or share link (for filters and rows)."""
    if isinstance(target, SavedComparison):
        return {"comparison": target}
    return {"run": target}


def target_audit(
    principal: Principal, target: Target, action, target_id: str | int, **metadata
) -> None:
    """Record ``action`` against ``target`` in its project's audit log, with the id of
    the row it concerns (``target_id``) and ``metadata`` beside it."""
    target_key: int | str
    if isinstance(target, SavedComparison):
        kind, target_key = "comparison", target.pk
    else:
        kind, target_key = "run", target.public_id
    audit_record(
        principal=principal,
        action=action,
        project=target.project,
        target_type=kind,
        target_id=target_key,
        target_label=target.label,
        metadata={"id": target_id, **metadata},
    )


def maker_fields(principal: Principal, user_field: str) -> dict[str, object]:
    """The fields naming ``principal`` as a new row's maker: the person in
    ``user_field`` or the service token in ``created_by_token``, and the label kept
    for when either is gone. Forbidden for the system and share-link visitors."""
    token = principal.service_token
    if principal.person is None and token is None:
        raise Forbidden("only a user or a service token can write this")
    return {
        user_field: principal.person,
        "created_by_token": token,
        f"{user_field}_label": principal.label,
    }
