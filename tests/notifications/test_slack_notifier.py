"""The Slack notifier with the real slack_sdk client against the fake Slack API."""

from __future__ import annotations

import importlib.util

import pytest
from django.utils import timezone

from apps.notifications.models import Delivery, DeliveryStatus, Destination
from apps.notifications.transports import notifier_for
from apps.notifications.transports.base import Sent, TransportError
from apps.notifications.transports.slack.blocks import slack_message
from apps.notifications.transports.slack.notifier import SlackNotifier
from tests.notifications.report_fixtures import fixture_report, mention_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def destination(project, fake_slack):
    destination = Destination(project=project, kind="slack", name="ml", target=fake_slack.channel)
    destination.set_credentials({"token": fake_slack.token})
    destination.save()
    return destination


@pytest.fixture
def fast_timeout(settings, fake_slack):
    settings.KIROKU_NOTIFY_TIMEOUT_SECONDS = 1
    fake_slack.accept_delay = 2.0


def make_delivery(destination, *, key="7:1234", run_id=1, attempts=1) -> Delivery:
    return Delivery.objects.create(
        project=destination.project,
        destination=destination,
        event_type="run.finished",
        run_id=run_id,
        idempotency_key=key,
        attempts=attempts,
    )


def report_for(delivery: Delivery, maker=fixture_report, **overrides):
    return maker(key=delivery.idempotency_key, delivery_id=delivery.pk, **overrides)


def mark_sent(delivery: Delivery, sent: Sent) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENT,
        remote_id=sent.remote_id,
        thread_ts=sent.thread_ts,
        sent_at=timezone.now(),
    )


def send(destination, delivery, report=None) -> Sent:
    return notifier_for(destination).send(delivery, report or report_for(delivery))


def test_registry_gives_the_slack_notifier(destination):
    assert isinstance(notifier_for(destination), SlackNotifier)


def test_send_posts_one_message_with_blocks_and_metadata(destination, fake_slack):
    delivery = make_delivery(destination)
    report = report_for(delivery)

    sent = send(destination, delivery, report)

    [message] = fake_slack.messages
    expected = slack_message(report)
    assert message["channel"] == fake_slack.channel
    assert message["text"] == expected["text"]
    assert message["blocks"] == expected["blocks"]
    assert message["metadata"] == {
        "event_type": "kiroku_delivery",
        "event_payload": {"key": "7:1234", "delivery_id": delivery.pk},
    }
    assert message["thread_ts"] is None
    assert (message["unfurl_links"], message["unfurl_media"]) == (False, False)
    assert sent == Sent(remote_id=message["ts"], thread_ts="")


def test_first_attempt_does_not_search_history(destination, fake_slack):
    send(destination, make_delivery(destination))

    assert fake_slack.calls("conversations.history") == []


def test_no_chart_is_uploaded_without_an_image_renderer(destination, fake_slack):
    assert importlib.util.find_spec("kaleido") is None

    send(destination, make_delivery(destination))

    assert [name for name, _ in fake_slack.requests] == ["chat.postMessage"]


def test_follow_up_for_the_same_run_goes_into_the_thread(destination, fake_slack):
    first = make_delivery(destination, key="7:1234", run_id=5)
    root = send(destination, first)
    mark_sent(first, root)
    crash = make_delivery(destination, key="8:1240", run_id=5)

    sent = send(destination, crash, report_for(crash, title="Run crashed"))

    assert len(fake_slack.messages) == 2
    assert fake_slack.messages[1]["thread_ts"] == root.remote_id
    assert sent.thread_ts == root.remote_id
    assert sent.remote_id == fake_slack.messages[1]["ts"] != root.remote_id


def test_another_run_starts_its_own_thread(destination, fake_slack):
    first = make_delivery(destination, key="7:1234", run_id=5)
    mark_sent(first, send(destination, first))

    send(destination, make_delivery(destination, key="7:1300", run_id=6))

    assert fake_slack.messages[1]["thread_ts"] is None


def test_rate_limited_is_transient_with_retry_after_from_the_header(destination, fake_slack):
    fake_slack.fail_next(1, "rate_limited", retry_after=17)

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination))

    error = caught.value
    assert (error.code, error.permanent, error.retry_after) == ("ratelimited", False, 17)
    assert fake_slack.messages == []
    assert fake_slack.rate_limited_count == 1


def test_the_fake_paces_each_channel(destination, fake_slack):
    fake_slack.rate_per_second = 1
    send(destination, make_delivery(destination, key="1:1"))

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination, key="1:2"))

    assert (caught.value.code, caught.value.retry_after) == ("ratelimited", 1)
    assert len(fake_slack.messages) == 1
    assert fake_slack.rate_limited_count == 1


@pytest.mark.parametrize(
    "breakage, code",
    [
        ("channel_not_found", "channel_not_found"),
        ("not_in_channel", "not_in_channel"),
        ("invalid_auth", "invalid_auth"),
        ("token_revoked", "token_revoked"),
        ("is_archived", "is_archived"),
    ],
)
def test_a_broken_destination_is_a_permanent_error(destination, fake_slack, breakage, code):
    if breakage == "channel_not_found":
        destination.target = "C0GONE"
    elif breakage == "not_in_channel":
        fake_slack.not_in_channels.add(fake_slack.channel)
    elif breakage == "invalid_auth":
        destination.set_credentials({"token": "xoxb-wrong"})
    elif breakage == "token_revoked":
        fake_slack.revoked_tokens.add(fake_slack.token)
    else:
        fake_slack.archived_channels.add(fake_slack.channel)

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination))

    assert (caught.value.code, caught.value.permanent) == (code, True)
    assert fake_slack.messages == []


def test_a_scripted_permanent_error_is_permanent(destination, fake_slack):
    fake_slack.fail_next(1, "account_inactive")

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination))

    assert (caught.value.code, caught.value.permanent) == ("account_inactive", True)


def test_server_error_is_transient_http_status(destination, fake_slack):
    fake_slack.fail_next(1, "server_error", status=503)

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination))

    assert (caught.value.code, caught.value.permanent) == ("http_503", False)


def test_a_body_that_is_not_json_is_transient_invalid_response(destination, fake_slack):
    fake_slack.fail_next(1, "server_error", status=200)

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination))

    assert (caught.value.code, caught.value.permanent) == ("invalid_response", False)


def test_an_unreachable_api_is_a_transient_connection_error(destination, settings):
    settings.KIROKU_SLACK_API_URL = "http://127.0.0.1:9/api"

    with pytest.raises(TransportError) as caught:
        send(destination, make_delivery(destination))

    assert (caught.value.code, caught.value.permanent) == ("connection_error", False)


def test_timeout_after_accept_then_retry_finds_the_message(
    destination,
    fake_slack,
    fast_timeout,
):
    delivery = make_delivery(destination)
    fake_slack.fail_next(1, "timeout_after_accept")
    with pytest.raises(TransportError) as caught:
        send(destination, delivery)
    assert (caught.value.code, caught.value.permanent) == ("timeout", False)
    [posted] = fake_slack.messages
    fake_slack.seed(450)  # the search has to page past later chatter
    delivery.attempts = 2

    sent = send(destination, delivery)

    assert sent == Sent(remote_id=posted["ts"], thread_ts="")
    assert fake_slack.post_count == 1
    assert len(fake_slack.calls("conversations.history")) == 3


def test_timeout_of_a_thread_reply_then_retry_finds_it_in_the_thread(
    destination,
    fake_slack,
    fast_timeout,
):
    first = make_delivery(destination, key="7:1234", run_id=5)
    root = send(destination, first)
    mark_sent(first, root)
    crash = make_delivery(destination, key="8:1240", run_id=5)
    fake_slack.fail_next(1, "timeout_after_accept")
    with pytest.raises(TransportError):
        send(destination, crash)
    crash.attempts = 2

    sent = send(destination, crash)

    assert sent == Sent(remote_id=fake_slack.messages[1]["ts"], thread_ts=root.remote_id)
    assert fake_slack.post_count == 2
    assert fake_slack.calls("conversations.replies")[0]["ts"] == root.remote_id


def test_hang_after_accept_leaves_one_message_after_release(
    destination,
    fake_slack,
    fast_timeout,
):
    delivery = make_delivery(destination)
    fake_slack.fail_next(1, "hang_after_accept")
    with pytest.raises(TransportError):
        send(destination, delivery)
    fake_slack.release()
    delivery.attempts = 2

    send(destination, delivery)

    assert len(fake_slack.messages) == 1


def test_retry_posts_when_the_earlier_attempt_never_reached_slack(destination, fake_slack):
    fake_slack.seed(3)
    delivery = make_delivery(destination, attempts=2)

    sent = send(destination, delivery)

    assert fake_slack.post_count == 1
    assert sent.remote_id == fake_slack.messages[-1]["ts"]
    assert fake_slack.calls("conversations.history")[0]["include_all_metadata"] == "1"


def test_another_deliverys_message_is_not_taken_for_this_one(destination, fake_slack):
    other = make_delivery(destination, key="7:1")
    send(destination, other)
    delivery = make_delivery(destination, key="7:2", attempts=2)

    send(destination, delivery)

    assert fake_slack.post_count == 2


def test_mentions_are_resolved_by_email(destination, fake_slack):
    fake_slack.users = {"alice_admin@example.com": "U0ALICE01"}
    delivery = make_delivery(destination)

    send(destination, delivery, report_for(delivery, mention_report))

    [message] = fake_slack.messages
    assert message["text"].startswith("<@U0ALICE01> @carol_viewer · ")
    lookups = [c["email"] for c in fake_slack.calls("users.lookupByEmail")]
    assert lookups == ["alice_admin@example.com", "carol_viewer@example.com"]


def test_without_the_email_scope_mentions_fall_back_to_names(destination, fake_slack):
    fake_slack.lookup_scope = False
    delivery = make_delivery(destination)

    send(destination, delivery, report_for(delivery, mention_report))

    [message] = fake_slack.messages
    assert message["text"].startswith("@alice_admin @carol_viewer · ")
    assert len(fake_slack.calls("users.lookupByEmail")) == 1


def test_hostile_report_is_accepted_by_the_fake(destination, fake_slack):
    from tests.notifications.test_slack_blocks import hostile_report

    delivery = make_delivery(destination)

    send(destination, delivery, report_for(delivery, hostile_report))

    assert len(fake_slack.messages) == 1


def test_test_posts_one_test_message(destination, fake_slack):
    notifier_for(destination).test()

    [message] = fake_slack.messages
    assert message["metadata"]["event_type"] == "kiroku_test"
    assert "Vision" in message["text"]
    assert [name for name, _ in fake_slack.requests] == ["auth.test", "chat.postMessage"]


def test_test_maps_invalid_auth(destination, fake_slack):
    destination.set_credentials({"token": "xoxb-wrong"})

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).test()

    assert (caught.value.code, caught.value.permanent) == ("invalid_auth", True)
    assert fake_slack.messages == []


def test_pace_key_is_one_per_channel_and_hides_the_token(destination, fake_slack):
    key = notifier_for(destination).pace_key()
    other = Destination(project=destination.project, kind="slack", name="o", target="C0OTHER")
    other.set_credentials({"token": fake_slack.token})

    assert key == notifier_for(destination).pace_key()
    assert key.startswith("slack:")
    assert key != notifier_for(other).pace_key()
    assert fake_slack.token not in key
