"""The DomainEvent outbox: written with the change, dispatched after commit, retried."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from apps.events.models import DomainEvent
from apps.events.services import event_dispatch, event_emit, event_retry_undispatched
from apps.events.subscribers import subscribe, unsubscribe


@pytest.fixture
def received():
    seen: list[tuple[str, int]] = []

    def handler(event: DomainEvent) -> None:
        seen.append((event.type, event.pk))

    subscribe("test.*", handler)
    yield seen
    unsubscribe(handler)


@pytest.fixture
def failing():
    calls = {"n": 0, "fail": True}

    def handler(event: DomainEvent) -> None:
        calls["n"] += 1
        if calls["fail"]:
            raise RuntimeError("subscriber is down")

    subscribe("test.flaky", handler)
    yield calls
    unsubscribe(handler)


@pytest.mark.django_db(transaction=True)
def test_event_is_dispatched_after_commit(received):
    with transaction.atomic():
        event = event_emit(type="test.happened", project_id=None)
        assert received == []
    assert received == [("test.happened", event.pk)]
    assert DomainEvent.objects.get(pk=event.pk).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_event_in_rolled_back_transaction_never_dispatches(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(type="test.rolled_back", project_id=None)
        raise RuntimeError("the change failed")
    assert received == []
    assert not DomainEvent.objects.filter(type="test.rolled_back").exists()


@pytest.mark.django_db(transaction=True)
def test_failed_dispatch_is_retried_by_the_periodic_job(failing):
    with transaction.atomic():
        event = event_emit(type="test.flaky", project_id=None)
    stored = DomainEvent.objects.get(pk=event.pk)
    assert (stored.dispatched_at, stored.attempts) == (None, 1)
    assert "subscriber is down" in stored.last_error
    failing["fail"] = False
    assert event_retry_undispatched(older_than=timedelta(0)) == 1
    stored.refresh_from_db()
    assert stored.dispatched_at is not None
    assert (stored.attempts, stored.last_error, failing["n"]) == (2, "", 2)


@pytest.mark.django_db(transaction=True)
def test_event_left_behind_by_a_crash_is_dispatched_by_the_sweeper(received):
    # As if the process died between commit and dispatch: the row exists, undispatched.
    event = DomainEvent.objects.create(type="test.orphan")
    assert event_retry_undispatched(older_than=timedelta(0)) == 1
    assert received == [("test.orphan", event.pk)]


@pytest.mark.django_db(transaction=True)
def test_dispatched_event_is_not_dispatched_twice(received):
    with transaction.atomic():
        event = event_emit(type="test.once", project_id=None)
    assert event_dispatch(event_id=event.pk) is False
    assert event_retry_undispatched(older_than=timedelta(0)) == 0
    assert received == [("test.once", event.pk)]


@pytest.mark.django_db(transaction=True)
def test_emit_outside_a_transaction_is_a_programming_error():
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        event_emit(type="test.loose", project_id=None)


@pytest.mark.django_db
def test_purge_deletes_only_events_dispatched_long_enough_ago():
    from django.utils import timezone

    from apps.events.services import event_purge_dispatched

    now = timezone.now()
    DomainEvent.objects.create(
        type="test.old", project_id=None, dispatched_at=now - timedelta(days=8)
    )
    recent = DomainEvent.objects.create(type="test.recent", project_id=None, dispatched_at=now)
    waiting = DomainEvent.objects.create(type="test.waiting", project_id=None)

    assert event_purge_dispatched(older_than=timedelta(days=7)) == 1

    assert set(DomainEvent.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
