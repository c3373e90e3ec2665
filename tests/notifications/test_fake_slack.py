"""The fake Slack API checks requests the way Slack does (sent straight through the
real slack_sdk client), so the notifier's tests against it mean something."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


def client(fake, token=None) -> WebClient:
    return WebClient(token=token or fake.token, base_url=fake.url + "/", retry_handlers=[])


def slack_error(call) -> dict:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value.response.data


def test_fake_rejects_a_wrong_or_missing_token(fake_slack):
    post = client(fake_slack, "xoxb-nope").chat_postMessage
    assert slack_error(lambda: post(channel=fake_slack.channel, text="hi"))["error"] == (
        "invalid_auth"
    )
    anonymous = WebClient(base_url=fake_slack.url + "/", retry_handlers=[])
    assert slack_error(anonymous.auth_test)["error"] == "not_authed"


def test_fake_rejects_more_than_50_blocks(fake_slack):
    blocks = [{"type": "divider"}] * 51

    data = slack_error(
        lambda: client(fake_slack).chat_postMessage(
            channel=fake_slack.channel, text="x", blocks=blocks
        )
    )

    assert data["error"] == "invalid_blocks"
    assert data["errors"] == [
        "must provide an array of no more than 50 items [json-pointer:/blocks]"
    ]
    assert fake_slack.messages == []


@pytest.mark.parametrize(
    "block, pointer",
    [
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
            "/blocks/0/text/text",
        ),
        (
            {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}},
            "/blocks/0/text/text",
        ),
        ({"type": "header", "text": {"type": "mrkdwn", "text": "x"}}, "/blocks/0/text"),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11},
            "/blocks/0/fields",
        ),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]},
            "/blocks/0/fields/0/text",
        ),
        (
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11},
            "/blocks/0/elements",
        ),
    ],
)
def test_fake_rejects_blocks_over_slacks_limits(fake_slack, block, pointer):
    data = slack_error(
        lambda: client(fake_slack).chat_postMessage(
            channel=fake_slack.channel, text="x", blocks=[block]
        )
    )

    assert data["error"] == "invalid_blocks"
    assert data["errors"][0].endswith(f"[json-pointer:{pointer}]")


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_fake_rejects_a_message_without_text_or_blocks_and_bad_metadata(fake_slack):
    web = client(fake_slack)
    channel = fake_slack.channel

    assert slack_error(lambda: web.chat_postMessage(channel=channel, text=""))["error"] == "no_text"
    bad = {"event_type": "kiroku delivery", "event_payload": {}}
    assert slack_error(lambda: web.chat_postMessage(channel=channel, text="x", metadata=bad))[
        "error"
    ] == ("invalid_metadata_schema")
    assert fake_slack.messages == []


def test_fake_history_pages_newest_first_with_metadata_on_request(fake_slack):
    web = client(fake_slack)
    meta = {"event_type": "kiroku_delivery", "event_payload": {"key": "k"}}
    web.chat_postMessage(channel=fake_slack.channel, text="mine", metadata=meta)
    fake_slack.seed(3)

    first = web.conversations_history(channel=fake_slack.channel, limit=2)
    cursor = first["response_metadata"]["next_cursor"]
    second = web.conversations_history(
        channel=fake_slack.channel, limit=2, cursor=cursor, include_all_metadata=True
    )
    plain = web.conversations_history(channel=fake_slack.channel)

    assert [m["text"] for m in first["messages"]] == ["chatter 2", "chatter 1"]
    assert [m["text"] for m in second["messages"]] == ["chatter 0", "mine"]
    assert second["messages"][1]["metadata"] == meta
    assert second["has_more"] is False
    assert plain["messages"][-1]["text"] == "mine"
    assert "metadata" not in plain["messages"][-1]
