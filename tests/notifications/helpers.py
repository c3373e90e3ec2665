"""Building notification rows and draining the outbox in tests."""

from __future__ import annotations

from apps.events.models import DomainEvent
from apps.events.services import event_dispatch
from apps.notifications.models import Delivery, Destination, Rule


def slack_destination(project, *, token: str = "xoxb-test-token", channel: str = "C0KIROKU01"):
    destination = Destination(project=project, kind="slack", name="ml-runs", target=channel)
    destination.set_credentials({"token": token})
    destination.save()
    return destination


def notion_destination(project, *, token: str = "secret_notion", database_id: str = "d" * 32):
    destination = Destination(project=project, kind="notion", name="results", target=database_id)
    destination.set_credentials({"token": token})
    destination.save()
    return destination


def rule(project, destination, event: str, **fields) -> Rule:
    return Rule.objects.create(project=project, destination=destination, event=event, **fields)


def dispatch_pending(capture) -> list[Delivery]:
    """Dispatch every undispatched domain event, as the outbox dispatcher does after a
    commit, without sending: the deliveries' enqueue callbacks are captured, not run.
    ``capture`` is pytest-django's ``django_capture_on_commit_callbacks``. Returns the
    deliveries written, oldest first."""
    before = set(Delivery.objects.values_list("pk", flat=True))
    with capture(execute=False):
        for event_id in DomainEvent.objects.filter(dispatched_at__isnull=True).values_list(
            "pk", flat=True
        ):
            event_dispatch(event_id=event_id)
    return list(Delivery.objects.exclude(pk__in=before).order_by("pk"))
