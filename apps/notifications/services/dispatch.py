"""From domain events to deliveries: the notifications subscriber.

Runs inside the outbox dispatcher's transaction, so the Delivery rows exist exactly
when the event is marked dispatched; each is enqueued after that commit. Idempotent:
a redispatched event finds its deliveries by idempotency key and adds none.
"""

from __future__ import annotations

import math
import operator
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.notifications import catalog
from apps.notifications.models import Delivery, Rule
from apps.notifications.services.deliveries import delivery_enqueue
from apps.runs.baseline import best_run
from apps.runs.models import MetricSummary, Run, RunStatus

_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def deliveries_for_event(event: DomainEvent) -> list[int]:
    """Write the deliveries ``event`` calls for under the project's enabled rules and
    enqueue them after commit. Returns the ids of the deliveries written now."""
    rule_events = catalog.RULES_FOR_DOMAIN_EVENT.get(event.type, ())
    if event.payload.get("ci_report"):
        # Ended by its CI report: the report's ci.reported message tells of the run,
        # so there is no second run.finished message about it.
        rule_events = tuple(e for e in rule_events if e != catalog.RUN_FINISHED)
    if not rule_events or event.project_id is None:
        return []
    rules = list(
        Rule.objects.filter(
            project_id=event.project_id,
            project__deleted_at__isnull=True,
            enabled=True,
            event__in=rule_events,
        ).order_by("pk")
    )
    if not rules:
        return []
    run = None
    if event.run_id is not None:
        run = (
            Run.objects.select_related("project", "author")
            .filter(pk=event.run_id, deleted_at__isnull=True)
            .first()
        )
        if run is None:
            return []
    created: list[int] = []
    now = timezone.now()
    for rule in rules:
        if not filters_match(rule.filters, run):
            continue
        fired = _evaluate(rule, event, run)
        if fired is None:
            continue
        key, payload = fired
        if Delivery.objects.filter(idempotency_key=key).exists():
            continue
        if _cooling_down(rule, now):
            continue
        delivery = Delivery.objects.create(
            project_id=event.project_id,
            rule=rule,
            destination_id=rule.destination_id,
            event_id=event.pk,
            event_type=rule.event,
            run_id=run.pk if run else None,
            payload=payload,
            idempotency_key=key,
        )
        Rule.objects.filter(pk=rule.pk).update(last_fired_at=now)
        created.append(delivery.pk)
    if created:

        def enqueue_created() -> None:
            for pk in created:
                delivery_enqueue(pk)

        transaction.on_commit(enqueue_created)
    return created


def filters_match(filters: dict[str, Any], run: Run | None) -> bool:
    """Every filter given must hold for the run; an event without a run passes only
    when the rule has no filters."""
    if not filters:
        return True
    if run is None:
        return False
    tags = filters.get("tags") or {}
    if tags:
        have = dict(run.tags.filter(key__in=list(tags)).values_list("key", "value"))
        if any(have.get(key) != value for key, value in tags.items()):
            return False
    if filters.get("name") and not fnmatchcase(run.name, filters["name"]):
        return False
    if filters.get("branch") and not fnmatchcase(run.git_branch, filters["branch"]):
        return False
    author = run.author.username if run.author else None
    return not filters.get("author") or author == filters["author"]


def _cooling_down(rule: Rule, now) -> bool:
    """A rule that fired less than its cooldown ago stays quiet (a flapping condition)."""
    if not rule.cooldown_seconds or rule.last_fired_at is None:
        return False
    return now - rule.last_fired_at < timedelta(seconds=rule.cooldown_seconds)


def _evaluate(rule: Rule, event: DomainEvent, run: Run | None) -> tuple[str, dict] | None:
    """Whether ``rule`` fires for ``event``: (idempotency key, payload) or None."""
    once_per_run = f"{rule.pk}:run:{run.pk}" if run else None
    if rule.event == catalog.METRIC_THRESHOLD:
        return _threshold(rule, run, once_per_run)
    if rule.event == catalog.RUN_NEW_BEST:
        return _new_best(rule, run, once_per_run)
    if rule.event in catalog.RUN_END_EVENTS and run is None:
        return None
    payload = {k: v for k, v in event.payload.items() if k in _PAYLOAD_KEYS}
    return f"{rule.pk}:{event.pk}", payload


# What a delivery keeps of its event's payload for the message.
_PAYLOAD_KEYS = (
    "comment_id",
    "run_id",
    "author",
    "mentioned",
    "excerpt",
    "summary",
    "status",
    # ci.reported: the verdict, the baseline the job compared with, its key metrics.
    "verdict",
    "baseline_run",
    "baseline_label",
    "metrics",
    # The model registry's events (apps.events.registry documents them).
    "model",
    "version",
    "alias",
    "actor",
    "reason",
    "description",
    "previous_version",
    "previous_run_id",
    "current_version",
    "current_run_id",
    "request_id",
    "decision",
    "comment",
    "requested_by",
)


def _threshold(rule: Rule, run: Run | None, key: str | None) -> tuple[str, dict] | None:
    if run is None or key is None:
        return None
    metric, op, threshold = rule.condition["metric"], rule.condition["op"], rule.condition["value"]
    row = MetricSummary.objects.filter(run=run, key=metric).values("last", "last_step").first()
    if row is None or row["last"] is None or math.isnan(row["last"]):
        return None
    if not _OPERATORS[op](row["last"], threshold):
        return None
    payload = {
        "metric": metric,
        "op": op,
        "threshold": threshold,
        "value": row["last"],
        "step": row["last_step"],
    }
    return key, payload


def _new_best(rule: Rule, run: Run | None, key: str | None) -> tuple[str, dict] | None:
    """Fires when a finished run beats every other finished run of the project on the
    metric (strictly); the project's first run with the metric has nothing to beat."""
    if run is None or key is None or run.status != RunStatus.FINISHED:
        return None
    metric, goal = rule.condition["metric"], rule.condition["goal"]
    mine = MetricSummary.objects.filter(run=run, key=metric).values_list("last", flat=True).first()
    if mine is None or not math.isfinite(mine):
        return None
    previous = best_run(project=run.project, metric=metric, goal=goal, exclude=run)
    if previous is None:
        return None
    previous_run, previous_value = previous
    beaten = mine > previous_value if goal == "max" else mine < previous_value
    if not beaten:
        return None
    payload = {
        "metric": metric,
        "goal": goal,
        "value": mine,
        "previous": previous_value,
        "previous_run": previous_run.public_id,
    }
    return key, payload
