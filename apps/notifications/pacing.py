"""Pacing sends to one destination across every worker (Slack: one message per second
per channel by default, ``KIROKU_SLACK_MESSAGES_PER_SECOND``).

With Redis, a slot is reserved atomically: the key holds the time the next message
may go, and each reservation moves it on by one interval, so N workers posting to
one channel queue up at the rate instead of racing into 429s. Without Redis (the
embedded default: one process) a lock and a dict do the same.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis
from django.conf import settings

# KEYS[1]: the pace key. ARGV: interval (µs), longest wait worth reserving (µs).
# Returns {reserved (0/1), wait in µs}. Uses the server's clock, which every worker shares.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local next_at = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, next_at)
local wait = at - now
if wait > max_wait then
  return {0, wait}
end
redis.call('SET', KEYS[1], at + interval, 'PX', math.ceil((wait + interval) / 1000) + 1000)
return {1, wait}
"""

_local_lock = threading.Lock()
_local_next: dict[str, float] = {}


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def reserve(key: str, *, per_second: float, max_wait: float) -> tuple[bool, float]:
    """Reserve the next send slot for ``key``.

    Returns ``(True, wait)`` when a slot ``wait`` seconds from now is reserved (the
    caller sleeps that long, then sends), or ``(False, wait)`` when the next free slot
    is further off than ``max_wait`` (nothing is reserved; try again after ``wait``).
    """
    interval = 1.0 / per_second
    url = settings.REDIS_URL
    if url:
        reserved, wait_us = _client(url).eval(
            _RESERVE, 1, f"kiroku:pace:{key}", int(interval * 1e6), int(max_wait * 1e6)
        )
        return bool(reserved), int(wait_us) / 1e6
    with _local_lock:
        now = time.monotonic()
        at = max(now, _local_next.get(key, 0.0))
        wait = at - now
        if wait > max_wait:
            return False, wait
        _local_next[key] = at + interval
        return True, wait


def wait_for_slot(key: str, *, per_second: float, max_wait: float) -> float | None:
    """Sleep until ``key``'s next slot. Returns None once it may send, or the seconds to
    come back after when the queue is longer than ``max_wait``."""
    reserved, wait = reserve(key, per_second=per_second, max_wait=max_wait)
    if not reserved:
        return wait
    if wait > 0:
        time.sleep(wait)
    return None
