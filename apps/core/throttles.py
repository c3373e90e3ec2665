"""Request rates: per token, per client address, and for requests without credentials.

Rates live in ``settings.KIROKU_THROTTLE_RATES`` (``{scope: (requests, seconds)}`` or
``None`` for no limit; config/settings.py reads them from ``KIROKU_THROTTLE_*``) and
are read on every request, so a settings override takes effect at once.

Counting is a sliding-window counter in the default cache (Redis when ``REDIS_URL`` is
set, so every web process shares it): one counter per key and window, and the
previous window's count weighted by how much of it still overlaps the last
``seconds``. Each check is a few constant-size cache operations, where DRF's
``SimpleRateThrottle`` stores and rewrites one timestamp per request. Concurrent
requests may overshoot a rate by a few (the read and the increment are two steps); a
cache that fails lets requests through (throttling is protection, not a gate) and is
logged at most once a minute.

A refused request is answered 429 with ``Retry-After`` (whole seconds, rounded up)
and says which limit it met, e.g. ``too many requests: at most 6000 per minute for
this token; retry in 3 s``. DRF runs throttles after authentication and the
permission check, so requests refused with 401 or 403 are not counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import unicodedata
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
# An address as it may appear in REMOTE_ADDR or X-Forwarded-For; anything else is
# hashed before it becomes part of a cache key.
_ADDRESS = re.compile(r"^[0-9A-Fa-f.:]{1,45}$")
_last_cache_warning = float("-inf")
# Wall-clock seconds: windows must line up across processes (tests replace it).
clock = time.time


class TooManyRequests(exceptions.Throttled):
    """A 429 whose message names the limit met; ``wait`` is whole seconds."""

    def __init__(self, message: str, wait: int):
        super().__init__(detail=message)
        self.wait = wait


def rate_for(scope: str) -> tuple[int, int] | None:
    """The configured ``(requests, seconds)`` of ``scope``, or None (no limit)."""
    return settings.KIROKU_THROTTLE_RATES.get(scope)


def rate_text(rate: tuple[int, int]) -> str:
    """``6000 per minute``, ``5 per 10 seconds``."""
    requests, seconds = rate
    period = _PERIODS.get(seconds, f"{seconds} seconds")
    return f"{requests} per {period}"


def rate_hit(key: str, rate: tuple[int, int], *, now: float | None = None) -> int | None:
    """Count one request under ``key`` if ``rate`` allows it and return None; otherwise
    count nothing and return the whole seconds (at least 1) until one more would be
    allowed."""
    return _rate_check(key, rate, now=now, count=True)


def rate_wait(key: str, rate: tuple[int, int], *, now: float | None = None) -> int | None:
    """What ``rate_hit`` would answer for ``key`` now, counting nothing: None when one
    more request would be allowed, else the whole seconds (at least 1) to wait."""
    return _rate_check(key, rate, now=now, count=False)


def _rate_check(key: str, rate: tuple[int, int], *, now: float | None, count: bool) -> int | None:
    """A sliding window of two fixed ones: the previous window's count, weighted by how
    much of it still overlaps, plus the current one's. Any cache failure lets the
    request through (a throttle must never take the service down with it)."""
    requests, seconds = rate
    now = clock() if now is None else now
    window = int(now // seconds)
    elapsed = now - window * seconds
    current_key, previous_key = f"{key}:{window}", f"{key}:{window - 1}"
    try:
        counts = cache.get_many([previous_key, current_key])
        previous, current = counts.get(previous_key, 0), counts.get(current_key, 0)
        wait = _wait(previous, current, requests, seconds, elapsed)
        if wait is not None:
            return max(1, math.ceil(wait))
        if count:
            try:
                cache.incr(current_key)
            except ValueError:
                # The window's first request. Kept through the next window, which
                # weighs it as its previous one.
                if not cache.add(current_key, 1, timeout=2 * seconds + 1):
                    cache.incr(current_key)
    except Exception:
        _warn_cache_failure()
    return None


def _wait(previous: int, current: int, requests: int, seconds: int, elapsed: float) -> float | None:
    """Seconds until ``previous * (1 - t / seconds) + current + 1 <= requests`` holds at
    ``t = elapsed + wait``; None when it holds now."""
    if previous * (1 - elapsed / seconds) + current + 1 <= requests:
        return None
    if current + 1 <= requests:
        # Within this window, as the previous window's weight shrinks.
        needed = 1 - (requests - 1 - current) / previous
        return max(0.0, needed * seconds - elapsed)
    # Not in this window: in the next one this window's count is the previous one.
    return (seconds - elapsed) + seconds * (1 - (requests - 1) / current)


def _warn_cache_failure() -> None:
    global _last_cache_warning
    now = time.monotonic()
    if now - _last_cache_warning > 60:
        _last_cache_warning = now
        logger.warning("throttling skipped: the cache is not answering", exc_info=True)


def client_address(request: Any) -> str:
    """The client's address: REMOTE_ADDR, or the address the nearest of
    ``REST_FRAMEWORK["NUM_PROXIES"]`` trusted proxies put in X-Forwarded-For (DRF's
    ``get_ident``), made safe for a cache key."""
    ident = BaseThrottle().get_ident(request) or "unknown"
    if _ADDRESS.fullmatch(ident):
        return ident
    return "h" + hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]


class _KirokuThrottle(BaseThrottle):
    scope: str = ""
    # How the 429 names the bucket: "for this token", "from this address".
    whose: str = ""

    def ident(self, request: Any) -> str | None:
        """This request's bucket within the scope, or None when the scope does not
        apply to it."""
        raise NotImplementedError

    def describe(self, request: Any) -> str:
        return self.whose

    def allow_request(self, request: Any, view: Any) -> bool:
        rate = rate_for(self.scope)
        if rate is None:
            return True
        ident = self.ident(request)
        if ident is None:
            return True
        wait = rate_hit(f"throttle:{self.scope}:{ident}", rate)
        if wait is None:
            return True
        raise TooManyRequests(
            f"too many requests: at most {rate_text(rate)} {self.describe(request)}; "
            f"retry in {wait} s",
            wait,
        )


class TokenRateThrottle(_KirokuThrottle):
    """Per credential: each API token (personal or service) has its own bucket, and a
    portal session counts against its user."""

    scope = "token"

    def ident(self, request: Any) -> str | None:
        # Bearer authentication leaves the token in request.auth; a session leaves None.
        if request.auth is not None:
            return f"t{request.auth.pk}"
        if request.user.is_authenticated:
            return f"u{request.user.pk}"
        return None

    def describe(self, request: Any) -> str:
        return "for this token" if request.auth is not None else "for this user"


class ClientIpRateThrottle(_KirokuThrottle):
    """Per client address, every request: the ceiling for many tokens behind one
    address."""

    scope = "ip"
    whose = "from this address"

    def ident(self, request: Any) -> str | None:
        return client_address(request)


class AnonRateThrottle(_KirokuThrottle):
    """Per client address, requests without credentials."""

    scope = "anon"
    whose = "without a token from this address"

    def ident(self, request: Any) -> str | None:
        if request.user.is_authenticated:
            return None
        return client_address(request)


def login_attempt_wait(request: Any, username: str) -> tuple[int, str] | None:
    """Count one portal sign-in attempt; None when allowed, else the seconds to wait
    and what to say. Attempts are limited per address and username (``login``), and
    per address whatever the username (``anon``), so neither one account nor many
    can be tried quickly from one place."""
    address = client_address(request)
    name = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    for scope, key in (("login", f"{address}:{name}"), ("anon", address)):
        rate = rate_for(scope)
        if rate is None:
            continue
        wait = rate_hit(f"throttle:{scope}:{key}", rate)
        if wait is not None:
            return wait, f"Too many sign-in attempts; try again in {wait} s."
    return None


def password_reset_wait(request: Any) -> tuple[int, str] | None:
    """Count one password-reset request from this client address (``password_reset``);
    None when allowed, else the seconds to wait and what to say. Counted whatever the
    email asked for, so a refusal says nothing about any address."""
    wait = _scope_hit("password_reset", client_address(request))
    if wait is None:
        return None
    return wait, f"Too many password-reset requests from this address; try again in {wait} s."


def password_reset_email_allowed(email: str) -> bool:
    """Count one reset email to ``email`` (``password_reset_email``); False when that
    address has had its share and no email should go out. Counted for every address
    asked for, whether or not an account has it, and compared the way Django's reset
    form finds accounts (NFKC, case-folded)."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    key = hashlib.sha256(folded.encode("utf-8", "replace")).hexdigest()[:32]
    return _scope_hit("password_reset_email", key) is None


def _scope_hit(scope: str, key: str) -> int | None:
    """``rate_hit`` for ``key`` under ``scope``'s configured rate; None when it has none."""
    rate = rate_for(scope)
    if rate is None:
        return None
    return rate_hit(f"throttle:{scope}:{key}", rate)


def share_request_wait(request: Any, *, count: bool) -> tuple[int, str] | None:
    """Requests for share-link pages (``/s/<token>``), per client address (scope
    ``share``). With ``count``: count this one and answer None when allowed. Without:
    count nothing, only say whether the address is over the rate already. Over it: the
    seconds to wait and what to say."""
    rate = rate_for("share")
    if rate is None:
        return None
    key = f"throttle:share:{client_address(request)}"
    wait = rate_hit(key, rate) if count else rate_wait(key, rate)
    if wait is None:
        return None
    return wait, (
        f"Too many requests for shared pages from your address (at most {rate_text(rate)}); "
        f"try again in {wait} s."
    )


def first_in_window(key: str, seconds: int) -> bool:
    """Whether this is the first call with ``key`` in the current window of ``seconds``
    (fixed windows on ``clock``, so they line up across processes): for "at most once
    per hour" records. True as well when the cache fails, since where this guards a
    record a duplicate does less harm than a gap."""
    window = int(clock() // seconds)
    try:
        return bool(cache.add(f"{key}:{window}", 1, timeout=seconds + 60))
    except Exception:
        _warn_cache_failure()
        return True
