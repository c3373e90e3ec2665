"""Writes for runs (except the log batch, in apps.runs.ingest). Each checks
permission, runs in one transaction, records its audit event and writes its
domain events to the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from kiroku.redaction import redact_environment, redact_json, redact_text

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Invalid
from apps.core.hooks import Hook
from apps.events import registry as domain_events
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.models import TERMINAL_STATUSES, Run, RunStatus
from apps.runs.recording import datasets_upsert, params_add, summary_upsert, tags_apply
from apps.runs.validation import RunCreateIn, RunFinishIn, RunUpdateIn

STATUS_EVENTS = {
    RunStatus.FINISHED: domain_events.RUN_FINISHED,
    RunStatus.FAILED: domain_events.RUN_FAILED,
    RunStatus.KILLED: domain_events.RUN_KILLED,
    RunStatus.CRASHED: domain_events.RUN_CRASHED,
}


def _event_payload(run: Run, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run.public_id,
        "name": run.name,
        "status": run.status,
        "project": run.project.slug,
        **extra,
    }


def _run_audit(
    *,
    principal: Principal,
    run: Run,
    action: audit_actions.AuditAction,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Record an audit event about ``run``, inside the caller's transaction."""
    audit_record(
        principal=principal,
        action=action,
        project=run.project,
        target_type="run",
        target_id=run.public_id,
        target_label=run.label,
        metadata=metadata,
    )


def run_create(*, principal: Principal, project: Project, data: RunCreateIn) -> tuple[Run, bool]:
    """Create a run, or return the existing one with the same ``client_id`` in this
    project. Returns ``(run, created)``. The git diff, the environment (command line
    included) and the CI context are stored with their secrets redacted
    (``kiroku.redaction``, the SDK's own rules), whatever the client did."""
    require_role(principal, project, Role.MEMBER)
    if data.client_id is not None:
        existing = Run.objects.alive().filter(project=project, client_id=data.client_id).first()
        if existing is not None:
            return existing, False
    parent = None
    if data.parent_id is not None:
        parent = Run.objects.alive().filter(project=project, public_id=data.parent_id).first()
        if parent is None:
            raise Invalid("no run with this id in the project", field="parent_id")
    now = timezone.now()
    git = data.git
    # Older SDKs and other clients send these unredacted: nothing stored may depend on
    # the client being current. Done before the transaction (about 0.15 s per MiB).
    diff = redact_text(git.diff) if git else ""
    environment = redact_environment(data.environment)
    ci = redact_json(data.ci)
    try:
        with transaction.atomic():
            run = Run.objects.create(
                project=project,
                client_id=data.client_id,
                name=data.name,
                group=data.group,
                parent=parent,
                # Attribution only (no permission reads it): a service token's runs
                # are credited to its creator, who answers for the token; the audit
                # log names the token itself.
                author=principal.user,
                notes=data.notes,
                started_at=data.started_at or now,
                heartbeat_at=now,
                git_commit=git.commit if git else "",
                git_branch=git.branch if git else "",
                git_remote=git.remote if git else "",
                git_dirty=git.dirty if git else None,
                git_diff=diff,
                git_diff_truncated=git.diff_truncated if git else False,
                environment=environment,
                ci=ci,
            )
            params_add(run=run, params=data.params)
            tags_apply(run=run, tags=data.tags)
            datasets_upsert(run=run, datasets=data.datasets)
            _run_audit(principal=principal, run=run, action=audit_actions.RUN_CREATE)
    except IntegrityError:
        # A concurrent create with the same client_id won the race: answer with it.
        if data.client_id is None:
            raise
        existing = Run.objects.alive().filter(project=project, client_id=data.client_id).first()
        if existing is None:
            raise Conflict(
                "client_id belongs to a deleted run; restore it or use another", field="client_id"
            ) from None
        return existing, False
    return run, True


def run_update(*, principal: Principal, run: Run, data: RunUpdateIn) -> Run:
    """Edit name, notes and tags, in any state. A tag set to null is removed."""
    require_role(principal, run.project, Role.MEMBER, what="run")
    changed: dict[str, Any] = {}
    with transaction.atomic():
        fields = []
        if data.name is not None and data.name != run.name:
            changed["name"] = {"before": run.name, "after": data.name}
            run.name = data.name
            fields.append("name")
        if data.notes is not None and data.notes != run.notes:
            changed["notes"] = "edited"
            run.notes = data.notes
            fields.append("notes")
        if fields:
            run.save(update_fields=fields)
        if data.tags:
            _lock(run)  # the per-run tag cap is counted under the run's lock
        tag_changes = tags_apply(run=run, tags=data.tags)
        if tag_changes:
            changed["tags"] = sorted(tag_changes)
        if changed:
            _run_audit(
                principal=principal,
                run=run,
                action=audit_actions.RUN_UPDATE,
                metadata={"changed": changed},
            )
    return run


def _lock(run: Run) -> Run:
    """Re-read the run under a row lock: writes to one run are serialised."""
    return Run.objects.select_for_update().select_related("project").get(pk=run.pk)


def run_finish(
    *,
    principal: Principal,
    run: Run,
    data: RunFinishIn,
    event_extra: dict[str, Any] | None = None,
) -> Run:
    """End a run with FINISHED, FAILED or KILLED. Idempotent: ending it again with the
    same status changes nothing; a different status after it ended is a 409.
    ``event_extra`` joins the run-end event's payload (a CI report marks its run)."""
    require_role(principal, run.project, Role.MEMBER, what="run")
    with transaction.atomic():
        run = _lock(run)
        if run.status in TERMINAL_STATUSES:
            if run.status != data.status:
                raise Conflict(f"run already ended as {run.status}", field="status")
            summary_upsert(run=run, summary=data.summary)
            return run
        run.status = data.status
        run.ended_at = data.ended_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "ended_at", "heartbeat_at"])
        summary_upsert(run=run, summary=data.summary)
        _run_audit(
            principal=principal,
            run=run,
            action=audit_actions.RUN_FINISH,
            metadata={"status": run.status},
        )
        event_emit(
            type=STATUS_EVENTS[run.status],
            project_id=run.project_id,
            run_id=run.pk,
            payload=_event_payload(run, **(event_extra or {})),
        )
    return run


def run_resume(*, principal: Principal, run: Run) -> Run:
    """Reopen an ended or crashed run so its client can go on writing to it (a job
    requeued after preemption, a notebook picking a run up again). Idempotent: a
    RUNNING run is left as it is."""
    require_role(principal, run.project, Role.MEMBER, what="run")
    with transaction.atomic():
        run = _lock(run)
        if run.status == RunStatus.RUNNING:
            return run
        previous = run.status
        run.status = RunStatus.RUNNING
        run.ended_at = None
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "ended_at", "heartbeat_at"])
        _run_audit(
            principal=principal,
            run=run,
            action=audit_actions.RUN_RESUME,
            metadata={"previous_status": previous},
        )
    return run


def run_heartbeat(*, principal: Principal, run: Run) -> Run:
    """Record that the client is alive; a CRASHED run comes back to RUNNING. An ended
    run is left as it is (the answer carries its status so the client can stop)."""
    require_role(principal, run.project, Role.MEMBER, what="run")
    with transaction.atomic():
        run = _lock(run)
        run_touch(run=run)
    return run


def run_touch(*, run: Run) -> None:
    """Inside the caller's transaction, with ``run`` locked: the client wrote, so the
    run is alive. Not audited (high volume)."""
    if run.status in TERMINAL_STATUSES:
        return
    fields = ["heartbeat_at"]
    run.heartbeat_at = timezone.now()
    if run.status == RunStatus.CRASHED:
        run.status = RunStatus.RUNNING
        run.ended_at = None
        fields += ["status", "ended_at"]
    run.save(update_fields=fields)


def run_mark_stale_crashed(*, timeout: timedelta | None = None) -> int:
    """Mark RUNNING runs whose last heartbeat is older than ``timeout`` as CRASHED.
    Returns how many were marked."""
    timeout = timeout or timedelta(seconds=settings.KIROKU_HEARTBEAT_TIMEOUT_SECONDS)
    cutoff = timezone.now() - timeout
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
    marked = 0
    for run_pk in stale.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            run = (
                Run.objects.select_for_update(skip_locked=True)
                .select_related("project")
                .filter(pk=run_pk, status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
                .first()
            )
            if run is None:  # it wrote meanwhile, or another sweeper has it
                continue
            run.status = RunStatus.CRASHED
            run.ended_at = run.heartbeat_at
            run.save(update_fields=["status", "ended_at"])
            _run_audit(
                principal=Principal.system(),
                run=run,
                action=audit_actions.RUN_CRASH,
                metadata={"last_heartbeat": run.heartbeat_at.isoformat()},
            )
            event_emit(
                type=domain_events.RUN_CRASHED,
                project_id=run.project_id,
                run_id=run.pk,
                payload=_event_payload(run),
            )
            marked += 1
    return marked


def run_delete(*, principal: Principal, run: Run) -> Run:
    """Soft-delete (admins): the run disappears from reads and search until restored."""
    return _run_set_deleted(principal=principal, run=run, deleted=True)


def run_restore(*, principal: Principal, run: Run) -> Run:
    return _run_set_deleted(principal=principal, run=run, deleted=False)


# Called with ``run=`` before a run is deleted; a guard raises (Conflict) to refuse, as
# the model registry does for a run that registered versions point at.
run_delete_guards: Hook[Callable[..., object]] = Hook("run delete guard")


def _run_set_deleted(*, principal: Principal, run: Run, deleted: bool) -> Run:
    require_role(principal, run.project, Role.ADMIN, what="run")
    if (run.deleted_at is not None) == deleted:
        return run
    with transaction.atomic():
        if deleted:
            # Locked first, so a registration of this run in progress finishes (and
            # its guard sees it) before the run is deleted.
            list(Run.objects.select_for_update().filter(pk=run.pk).values_list("pk"))
            for guard in run_delete_guards:
                guard(run=run)
        run.deleted_at = timezone.now() if deleted else None
        run.save(update_fields=["deleted_at"])
        _run_audit(
            principal=principal,
            run=run,
            action=audit_actions.RUN_DELETE if deleted else audit_actions.RUN_RESTORE,
        )
    return run


# Called inside the transaction that hard-deletes a run, with ``run=``, before its rows
# go: apps above runs (the artifact store) release what they keep for it.
run_purge_hooks: Hook[Callable[..., object]] = Hook("run purge")


def run_purge_deleted(*, older_than_days: int) -> int:
    """Hard-delete runs soft-deleted more than ``older_than_days`` ago."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    purged = 0
    for run in Run.objects.filter(deleted_at__lte=cutoff).select_related("project")[:1000]:
        with transaction.atomic():
            _run_audit(principal=Principal.system(), run=run, action=audit_actions.RUN_PURGE)
            for release in run_purge_hooks:
                release(run=run)
            run.delete()
        purged += 1
    return purged
