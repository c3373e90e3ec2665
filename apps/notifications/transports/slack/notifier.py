"""Posts a report to a Slack channel with the official ``slack_sdk`` client.

Exactly once: every message carries metadata naming its delivery (``kiroku_delivery``:
key and id). When an earlier attempt may have reached Slack (``delivery.attempts >
1``: a timeout after Slack accepted the post, a lost worker), ``send`` first looks for
that message in the channel's history (and in the thread it would have gone into)
and returns it instead of posting again. The client never retries by itself
(``retry_handlers=[]``): the delivery engine decides when to try again.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from apps.notifications.crypto import CredentialsUnreadable
from apps.notifications.models import Delivery
from apps.notifications.report_content import Mention, Report
from apps.notifications.transports.base import Notifier, Sent, TransportError
from apps.notifications.transports.slack.blocks import fit, slack_message
from apps.notifications.transports.slack.threads import thread_root

log = logging.getLogger(__name__)

# Errors that no retry can fix: the destination needs an admin.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "invalid_auth",
        "token_revoked",
        "account_inactive",
        "is_archived",
        "missing_scope",
        "not_authed",
        "no_permission",
        "channel_is_archived",
        "restricted_action",
    }
)
# Slack refused this message (what Kiroku built): no retry helps, the channel is fine.
REFUSED_MESSAGE_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "invalid_arguments",
    }
)
DEFAULT_RETRY_AFTER = 30
METADATA_EVENT = "kiroku_delivery"
TEST_METADATA_EVENT = "kiroku_test"
# The duplicate check reads at most this many pages of this many messages.
HISTORY_PAGE_SIZE = 200
HISTORY_PAGES = 5
MAX_MENTION_LOOKUPS = 20

_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,60}$")


def _retry_after(headers: dict[str, Any]) -> int:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0, int(str(value).strip()))
            except ValueError:
                return DEFAULT_RETRY_AFTER
    return DEFAULT_RETRY_AFTER


def api_error(response: SlackResponse) -> TransportError:
    """The ``TransportError`` for a failed Slack API call (never the response body)."""
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or "")
    if status == 429:
        return TransportError("ratelimited", retry_after=_retry_after(response.headers))
    if error in PERMANENT_ERRORS:
        return TransportError(error, permanent=True)
    if error in REFUSED_MESSAGE_ERRORS:
        return TransportError(error, permanent=True, destination_ok=True)
    if status != 200:
        return TransportError(f"http_{status}")
    # slack_sdk turns a body that is not JSON into a long "error" sentence.
    return TransportError(error if _ERROR_CODE.fullmatch(error) else "invalid_response")


@contextmanager
def slack_errors() -> Iterator[None]:
    """Turn what the Slack client raises into ``TransportError``. A timeout or a lost
    connection leaves the outcome unknown; the next attempt's duplicate check settles
    it."""
    try:
        yield
    except SlackApiError as exc:
        raise api_error(exc.response) from None
    except TimeoutError:
        raise TransportError("timeout") from None
    except URLError as exc:
        code = "timeout" if isinstance(exc.reason, TimeoutError) else "connection_error"
        raise TransportError(code) from None
    except (OSError, http.client.HTTPException):
        raise TransportError("connection_error") from None


def delivery_metadata(report: Report, delivery: Delivery) -> dict[str, Any]:
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"key": report.key, "delivery_id": delivery.pk},
    }


def _is_ours(message: dict[str, Any], report: Report, delivery: Delivery) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == METADATA_EVENT
        and payload.get("key") == report.key
        and str(payload.get("delivery_id")) == str(delivery.pk)
    )


def _sent_for(message: dict[str, Any]) -> Sent:
    ts = str(message["ts"])
    thread_ts = str(message.get("thread_ts") or "")
    return Sent(remote_id=ts, thread_ts="" if thread_ts == ts else thread_ts)


def _next_cursor(response: SlackResponse) -> str:
    return str((response.get("response_metadata") or {}).get("next_cursor") or "")


def comparison_png(report: Report) -> bytes | None:
    """A grouped bar chart of the metrics that have a baseline value (plotly, rendered
    by kaleido), or None when there are none."""
    import plotly.graph_objects as go

    lines = [m for m in report.metrics if m.delta is not None][:10]
    if not lines:
        return None
    keys = [line.key[:40] for line in lines]
    figure = go.Figure(
        [
            go.Bar(name="this run", x=keys, y=[line.value for line in lines]),
            go.Bar(name="baseline", x=keys, y=[line.baseline for line in lines]),
        ]
    )
    figure.update_layout(barmode="group", width=800, height=400, margin={"t": 30})
    return figure.to_image(format="png")


class SlackNotifier(Notifier):
    kind = "slack"

    def _token(self) -> str:
        try:
            return str(self.destination.credentials["token"])
        except (CredentialsUnreadable, KeyError):
            raise TransportError("credentials_unreadable", permanent=True) from None

    def _client(self) -> WebClient:
        return WebClient(
            token=self._token(),
            base_url=settings.KIROKU_SLACK_API_URL.rstrip("/") + "/",
            timeout=settings.KIROKU_NOTIFY_TIMEOUT_SECONDS,
            retry_handlers=[],
        )

    def send(self, delivery: Delivery, report: Report) -> Sent:
        client = self._client()
        channel = self.destination.target
        thread_ts = thread_root(delivery) or ""
        with slack_errors():
            if delivery.attempts > 1:
                earlier = self._find_earlier(client, delivery, report, thread_ts)
                if earlier is not None:
                    return earlier
            user_ids = self._slack_user_ids(client, report.mentions)
            message = slack_message(report, user_ids=user_ids)
            response = client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata=delivery_metadata(report, delivery),
                thread_ts=thread_ts or None,
                unfurl_links=False,
                unfurl_media=False,
            )
        sent = Sent(remote_id=str(response["ts"]), thread_ts=thread_ts)
        self._upload_chart(client, report, thread_ts or sent.remote_id)
        return sent

    def _find_earlier(
        self, client: WebClient, delivery: Delivery, report: Report, thread_ts: str
    ) -> Sent | None:
        """This delivery's message if an earlier attempt posted it: searched in the
        channel since the delivery was created (less a minute of clock skew), and in
        the thread it would have gone into. Reads a bounded number of pages."""
        channel = self.destination.target
        oldest = f"{(delivery.created_at - timedelta(minutes=1)).timestamp():.6f}"
        cursor = ""
        for _ in range(HISTORY_PAGES):
            response = client.conversations_history(
                channel=channel,
                oldest=oldest,
                limit=HISTORY_PAGE_SIZE,
                include_all_metadata=True,
                cursor=cursor or None,
            )
            for message in response.get("messages") or []:
                if _is_ours(message, report, delivery):
                    return _sent_for(message)
            cursor = _next_cursor(response)
            if not cursor:
                break
        if not thread_ts:
            return None
        cursor = ""
        for _ in range(HISTORY_PAGES):
            try:
                response = client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    limit=HISTORY_PAGE_SIZE,
                    include_all_metadata=True,
                    cursor=cursor or None,
                )
            except SlackApiError as exc:
                if exc.response.get("error") == "thread_not_found":
                    return None
                raise
            for message in response.get("messages") or []:
                if _is_ours(message, report, delivery):
                    return _sent_for(message)
            cursor = _next_cursor(response)
            if not cursor:
                break
        return None

    def _slack_user_ids(self, client: WebClient, mentions: Sequence[Mention]) -> dict[str, str]:
        """Slack user ids of the mentioned users, found by email. Without the
        ``users:read.email`` scope, or for people not in the workspace, the message
        names them instead: a lookup error never fails the delivery."""
        found: dict[str, str] = {}
        for mention in mentions[:MAX_MENTION_LOOKUPS]:
            if not mention.email:
                continue
            try:
                response = client.users_lookupByEmail(email=mention.email)
            except SlackApiError as exc:
                if exc.response.get("error") in {"missing_scope", "ratelimited"} or (
                    exc.response.status_code == 429
                ):
                    break
                continue
            user_id = (response.get("user") or {}).get("id")
            if user_id:
                found[mention.username] = str(user_id)
        return found

    def _upload_chart(self, client: WebClient, report: Report, thread_ts: str) -> None:
        """A PNG of the metrics against the baseline, into the message's thread, when
        an image renderer (kaleido) is installed. The message is already posted, so a
        failure here is logged, never raised."""
        if importlib.util.find_spec("kaleido") is None:
            return
        try:
            png = comparison_png(report)
            if png is None:
                return
            client.files_upload_v2(
                channel=self.destination.target,
                thread_ts=thread_ts,
                file=png,
                filename="comparison.png",
                title="Metrics vs baseline",
            )
        except Exception:
            log.warning("slack: comparison chart for %s not uploaded", report.key, exc_info=True)

    def test(self) -> None:
        client = self._client()
        project = fit(self.destination.project.name, 80)
        with slack_errors():
            client.auth_test()
            client.chat_postMessage(
                channel=self.destination.target,
                text=f"Kiroku test message: notifications for {project} will be posted here.",
                metadata={
                    "event_type": TEST_METADATA_EVENT,
                    "event_payload": {"destination_id": self.destination.pk},
                },
                unfurl_links=False,
                unfurl_media=False,
            )

    def pace_key(self) -> str | None:
        """One key per channel (and token: another workspace's channel is another
        channel), hashed so the token never appears in the broker."""
        try:
            token = str(self.destination.credentials.get("token", ""))
        except CredentialsUnreadable:
            token = ""
        digest = hashlib.sha256(f"{token}\n{self.destination.target}".encode()).hexdigest()
        return f"slack:{digest[:16]}"
