"""The delivery engine: claim, send, record — retries, permanent errors, the sweeper.

In-process (the embedded default's way), with the real slack_sdk against the loopback
Slack; the worker-process versions of these paths are in tests/integration.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications.models import Delivery, DeliveryStatus, Destination
from apps.notifications.services.deliveries import (
    backoff_seconds,
    delivery_attempt,
    delivery_sweep,
)
from apps.runs.models import Run
from tests.notifications.fake_slack import CHANNEL, TOKEN
from tests.notifications.helpers import rule, slack_destination

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(project, run_id, fake_slack, settings):
    settings.KIROKU_SLACK_MESSAGES_PER_SECOND = 1000
    destination = slack_destination(project, token=TOKEN, channel=CHANNEL)
    on_finish = rule(project, destination, "run.finished")
    run = Run.objects.get(public_id=run_id)
    return Delivery.objects.create(
        project=project,
        rule=on_finish,
        destination=destination,
        event_type="run.finished",
        run_id=run.pk,
        idempotency_key=f"{on_finish.pk}:1",
    )


def test_a_sent_delivery_records_the_message_ts(delivery, fake_slack):
    assert delivery_attempt(delivery_id=delivery.pk) == "sent"

    delivery.refresh_from_db()
    assert [m["ts"] for m in fake_slack.messages] == [delivery.remote_id]
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")


def test_a_sent_delivery_is_not_sent_again(delivery, fake_slack):
    delivery_attempt(delivery_id=delivery.pk)

    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(fake_slack.messages) == 1


def test_429_is_retried_no_sooner_than_retry_after(delivery, fake_slack, settings):
    settings.KIROKU_NOTIFY_BACKOFF_SECONDS = 1
    fake_slack.fail_next(1, "rate_limited", retry_after=120)
    before = timezone.now()

    assert delivery_attempt(delivery_id=delivery.pk) == "retry"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "pending",
        1,
        "ratelimited",
    )
    assert delivery.next_attempt_at >= before + timedelta(seconds=120)
    assert fake_slack.messages == []


def test_a_retry_posts_once_when_due(delivery, fake_slack):
    fake_slack.fail_next(1, "server_error")
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    assert delivery_sweep() == 1  # no broker: the sweeper runs retries that are due

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(fake_slack.messages)) == ("sent", 2, 1)


def test_a_retry_not_yet_due_is_left_alone(delivery, fake_slack):
    fake_slack.fail_next(1, "server_error")
    delivery_attempt(delivery_id=delivery.pk)

    assert delivery_sweep() == 0
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"


def test_a_timeout_after_the_remote_accepted_is_not_posted_twice(delivery, fake_slack, settings):
    settings.KIROKU_NOTIFY_TIMEOUT_SECONDS = 1
    fake_slack.fail_next(1, "timeout_after_accept")
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    assert delivery_attempt(delivery_id=delivery.pk) == "sent"

    delivery.refresh_from_db()
    assert len(fake_slack.messages) == 1
    assert delivery.remote_id == fake_slack.messages[0]["ts"]


@pytest.mark.parametrize("code", ["channel_not_found", "invalid_auth", "token_revoked"])
def test_a_permanent_error_fails_and_marks_the_destination_broken(delivery, fake_slack, code):
    fake_slack.fail_next(1, code)

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    destination = Destination.objects.get(pk=delivery.destination_id)
    assert (delivery.status, delivery.last_error) == ("failed", code)
    assert (destination.is_broken, destination.broken_reason) == (True, code)


def test_a_broken_destination_gets_no_sends(delivery, fake_slack):
    Destination.objects.filter(pk=delivery.destination_id).update(
        broken_at=timezone.now(), broken_reason="token_revoked"
    )

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.last_error == "destination_broken: token_revoked"
    assert fake_slack.calls("chat.postMessage") == []


def test_the_last_attempt_gives_up(delivery, fake_slack, settings):
    settings.KIROKU_NOTIFY_MAX_ATTEMPTS = 3
    fake_slack.fail_next(3, "server_error")
    outcomes = []
    for _ in range(3):
        outcomes.append(delivery_attempt(delivery_id=delivery.pk))
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    delivery.refresh_from_db()
    assert outcomes == ["retry", "retry", "failed"]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.endswith("(gave up after 3 attempts)")


def test_an_attempt_in_flight_on_another_worker_is_left_to_it(delivery, fake_slack):
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, updated_at=timezone.now()
    )

    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert fake_slack.calls("chat.postMessage") == []


def test_the_sweeper_takes_over_an_attempt_whose_worker_was_lost(delivery, fake_slack, settings):
    # The message reached Slack, then the worker died before recording it.
    delivery_attempt(delivery_id=delivery.pk)
    lost = timezone.now() - timedelta(seconds=settings.KIROKU_NOTIFY_STUCK_AFTER_SECONDS + 1)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, remote_id="", sent_at=None, updated_at=lost
    )

    assert delivery_sweep() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(fake_slack.messages)) == ("sent", 2, 1)
    assert delivery.remote_id == fake_slack.messages[0]["ts"]


def test_backoff_doubles_up_to_the_cap_with_jitter(settings):
    settings.KIROKU_NOTIFY_BACKOFF_SECONDS = 5
    settings.KIROKU_NOTIFY_BACKOFF_CAP_SECONDS = 60
    for attempts, full in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (8, 60)]:
        delays = [backoff_seconds(attempts) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays), (attempts, min(delays), max(delays))


def test_a_refused_message_fails_without_breaking_the_destination(delivery, fake_slack):
    fake_slack.fail_next(1, "invalid_blocks")

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "failed",
        1,
        "invalid_blocks",
    )
    assert Destination.objects.get(pk=delivery.destination_id).is_broken is False
