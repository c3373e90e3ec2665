"""A loopback Slack Web API that checks requests the way Slack does.

The tests point the real ``slack_sdk`` client at it (``KIROKU_SLACK_API_URL``). It
serves ``auth.test``, ``chat.postMessage``, ``conversations.history``,
``conversations.replies`` and ``users.lookupByEmail``, and answers like Slack: HTTP 200
with ``{"ok": false, "error": ...}`` for API errors, 429 with ``Retry-After`` when rate
limited. It checks the bearer token, the channel (exists, bot is a member, not
archived), that a message has text or blocks, Block Kit limits (50 blocks, 3,000
characters of section text, 10 fields of 2,000, 150 of header text, 10 context
elements), the metadata shape, the thread, and an optional per-channel rate limit.

Scripting: ``fail_next(n, kind)`` makes the next ``n`` calls of a method (default
``chat.postMessage``) answer with ``kind``: ``"rate_limited"`` (429 + Retry-After),
``"server_error"`` (503, an HTML body), ``"timeout_after_accept"`` (store the message,
then answer only after the client has given up), ``"hang_after_accept"`` (store, then
wait for ``release()``), or any Slack error code (``"channel_not_found"``,
``"invalid_auth"``, ...) answered as ``{"ok": false, "error": code}``.

The server runs in a daemon thread of the test process; all state is behind a lock,
so a separate worker process can post to it while the test reads ``messages``.
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from tests.loopback import Loopback
from tests.notifications.fake_slack_checks import SlackError, message_content
from tests.notifications.fake_slack_http import Script, SlackHandler

TOKEN = "xoxb-1111-2222-kirokuTestToken"
CHANNEL = "C0KIROKU01"
TEAM_ID = "T0KIROKU"
BOT_USER_ID = "U0KIROKUBOT"
BOT_ID = "B0KIROKU"
APP_ID = "A0KIROKU"

_TS = re.compile(r"^\d{10}\.\d{6}$")


def _micros(ts: str) -> int:
    try:
        return int(Decimal(str(ts)) * 1_000_000)
    except (InvalidOperation, ValueError):
        raise SlackError("invalid_ts_oldest") from None


def _truthy(value: Any) -> bool:
    return str(value).lower() in {"1", "true"}


class FakeSlack:
    """The fake Slack API; use as a context manager or through the ``fake_slack``
    fixture. Attributes a test may change: ``channels``, ``not_in_channels``,
    ``archived_channels``, ``revoked_tokens``, ``users`` (email -> user id),
    ``lookup_scope`` (False: ``users.lookupByEmail`` answers ``missing_scope``),
    ``rate_per_second`` (None: no rate limit), ``accept_delay`` (seconds a
    ``timeout_after_accept`` answer waits; default the notify timeout plus 1.5).

    What it saw: ``messages`` (accepted posts: channel, text, blocks, metadata,
    thread_ts, ts, ...), ``requests`` ((method, params) of every call),
    ``post_count`` (``chat.postMessage`` calls, answered or refused),
    ``rate_limited_count`` (429s answered); ``calls(method)`` lists one method's params.
    """

    def __init__(
        self,
        *,
        token: str = TOKEN,
        channels: tuple[str, ...] = (CHANNEL,),
        rate_per_second: float | None = None,
    ) -> None:
        self.token = token
        self.channel = channels[0]
        self.channels = set(channels)
        self.not_in_channels: set[str] = set()
        self.archived_channels: set[str] = set()
        self.revoked_tokens: set[str] = set()
        self.users: dict[str, str] = {}
        self.lookup_scope = True
        self.rate_per_second = rate_per_second
        self.accept_delay: float | None = None
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.post_count = 0
        self.rate_limited_count = 0
        self._lock = threading.RLock()
        self._scripts: list[Script] = []
        self._recent: dict[str, deque[float]] = {}
        self._last_ts = 0
        self._released = threading.Event()
        self._stopping = threading.Event()
        self._loopback: Loopback | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(SlackHandler):
            pass

        Handler.fake = fake
        self._loopback = Loopback(Handler)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._released.set()
        if self._loopback is not None:
            self._loopback.close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._loopback is not None, "start() the fake first"
        return self._loopback.origin + "/api"

    # -- scripting -----------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        kind: str,
        *,
        method: str = "chat.postMessage",
        retry_after: int = 30,
        status: int = 503,
    ) -> None:
        """The next ``n`` calls of ``method`` answer with ``kind`` (see the module)."""
        with self._lock:
            if kind == "hang_after_accept":
                self._released.clear()
            self._scripts.append(Script(method, kind, n, retry_after, status))

    def release(self) -> None:
        """Let every ``hang_after_accept`` answer go (to a client long gone)."""
        self._released.set()

    def seed(self, count: int, *, channel: str | None = None, text: str = "chatter") -> None:
        """Messages from someone else, so searches have to page past them."""
        with self._lock:
            for i in range(count):
                self._store(channel or self.channel, {"text": f"{text} {i}"}, user="U0SOMEONE")

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.requests if name == method]

    def record(self, method: str, params: dict[str, Any], *, rate_limited: bool = False) -> None:
        with self._lock:
            self.requests.append((method, params))
            self.post_count += method == "chat.postMessage"
            self.rate_limited_count += rate_limited

    def hold_answer(self, script: Script) -> None:
        """Delay an accepted call's answer as its script says: past the client's
        timeout, or until ``release()``."""
        if script.kind == "hang_after_accept":
            self._released.wait()
            return
        from django.conf import settings

        delay = self.accept_delay
        if delay is None:
            delay = settings.KIROKU_NOTIFY_TIMEOUT_SECONDS + 1.5
        self._stopping.wait(delay)

    def script_for(self, method: str) -> Script | None:
        with self._lock:
            for script in self._scripts:
                if script.method == method and script.remaining > 0:
                    script.remaining -= 1
                    return script
            return None

    # -- the API -------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any], auth: str) -> dict[str, Any]:
        """Answer one call: the JSON body, or raise ``SlackError``."""
        self.record(method, params)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            raise SlackError("unknown_method", status=404)
        self._check_token(auth or str(params.get("token") or ""))
        return handler(params)

    def _check_token(self, token: str) -> None:
        if not token:
            raise SlackError("not_authed")
        if token in self.revoked_tokens:
            raise SlackError("token_revoked")
        if token != self.token:
            raise SlackError("invalid_auth")

    def _check_channel(self, channel: Any) -> str:
        if not isinstance(channel, str) or channel not in self.channels:
            raise SlackError("channel_not_found")
        if channel in self.archived_channels:
            raise SlackError("is_archived")
        if channel in self.not_in_channels:
            raise SlackError("not_in_channel")
        return channel

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://kiroku-test.slack.com/",
            "team": "Kiroku Test",
            "user": "kiroku",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        text, blocks, metadata = message_content(params)
        thread_ts = params.get("thread_ts") or None
        with self._lock:
            if thread_ts is not None:
                if not _TS.match(str(thread_ts)):
                    raise SlackError("invalid_thread_ts")
                if self._find(channel, str(thread_ts)) is None:
                    raise SlackError("thread_not_found")
            self._rate_limit(channel)
            message = self._store(
                channel,
                {
                    "text": text,
                    "blocks": blocks,
                    "metadata": metadata,
                    "thread_ts": thread_ts,
                    "unfurl_links": params.get("unfurl_links"),
                    "unfurl_media": params.get("unfurl_media"),
                },
                user=BOT_USER_ID,
            )
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "message": self._render(message, with_metadata=False),
        }

    def _rate_limit(self, channel: str) -> None:
        if not self.rate_per_second:
            return
        now = time.monotonic()
        recent = self._recent.setdefault(channel, deque())
        # A 50 ms grace: a client pacing at exactly the rate is not punished for jitter.
        while recent and now - recent[0] >= 0.95:
            recent.popleft()
        if len(recent) >= self.rate_per_second:
            self.rate_limited_count += 1
            wait = max(1, math.ceil(1.0 - (now - recent[0])))
            raise SlackError("ratelimited", status=429, retry_after=wait)
        recent.append(now)

    def _store(self, channel: str, fields: dict[str, Any], *, user: str) -> dict[str, Any]:
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        message = {
            "channel": channel,
            "text": "",
            "blocks": None,
            "metadata": None,
            "thread_ts": None,
            **fields,
            "ts": ts,
            "user": user,
        }
        self.messages.append(message)
        return message

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        for message in self.messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    def _render(self, message: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": message["user"],
            "text": message["text"],
            "ts": message["ts"],
            "team": TEAM_ID,
        }
        if message["user"] == BOT_USER_ID:
            out.update(bot_id=BOT_ID, app_id=APP_ID)
        if message["blocks"]:
            out["blocks"] = message["blocks"]
        if message["thread_ts"]:
            out["thread_ts"] = message["thread_ts"]
        replies = [m for m in self.messages if m["thread_ts"] == message["ts"]]
        if replies:
            out.update(thread_ts=message["ts"], reply_count=len(replies))
        if with_metadata and message["metadata"]:
            out["metadata"] = message["metadata"]
        return out

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        try:
            limit = min(max(int(params.get("limit") or 100), 1), 999)
            cursor = params.get("cursor")
            start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        except (ValueError, IndexError, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
        metadata = _truthy(params.get("include_all_metadata"))
        page = items[start : start + limit]
        has_more = start + limit < len(items)
        body: dict[str, Any] = {
            "ok": True,
            "messages": [self._render(m, with_metadata=metadata) for m in page],
            "has_more": has_more,
        }
        if has_more:
            next_cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode()
            body["response_metadata"] = {"next_cursor": next_cursor}
        return body

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        oldest = _micros(params.get("oldest") or "0")
        latest = _micros(params["latest"]) if params.get("latest") else None
        inclusive = _truthy(params.get("inclusive"))
        with self._lock:
            items = []
            for message in self.messages:
                if message["channel"] != channel or message["thread_ts"]:
                    continue  # replies live in their thread only
                ts = _micros(message["ts"])
                if ts < oldest or (ts == oldest and not inclusive):
                    continue
                if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                    continue
                items.append(message)
            items.sort(key=lambda m: _micros(m["ts"]), reverse=True)
            return self._page(items, params)

    def _api_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        with self._lock:
            root = self._find(channel, ts)
            if root is None or root["thread_ts"]:
                raise SlackError("thread_not_found")
            replies = [m for m in self.messages if m["channel"] == channel and m["thread_ts"] == ts]
            replies.sort(key=lambda m: _micros(m["ts"]))
            return self._page([root, *replies], params)

    def _api_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.lookup_scope:
            raise SlackError(
                "missing_scope", needed="users:read.email", provided="chat:write,channels:history"
            )
        email = params.get("email")
        if not email:
            raise SlackError("invalid_arguments")
        user_id = self.users.get(str(email))
        if user_id is None:
            raise SlackError("users_not_found")
        name = str(email).split("@")[0]
        return {
            "ok": True,
            "user": {"id": user_id, "team_id": TEAM_ID, "name": name, "profile": {"email": email}},
        }


@pytest.fixture
def fake_slack(settings) -> Iterator[FakeSlack]:
    """A started ``FakeSlack`` with ``KIROKU_SLACK_API_URL`` pointing at it."""
    with FakeSlack() as fake:
        settings.KIROKU_SLACK_API_URL = fake.url
        yield fake
