"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer).

Both are public (load balancers and orchestrators probe them without credentials)
and say nothing sensitive. ``HealthProbeMiddleware`` answers them before Django
validates the Host header and before the HTTPS redirect: probes address an
instance by its IP over plain HTTP, and would otherwise get a 400 (a Host that is
not in ``KIROKU_ALLOWED_HOSTS``) or a 301. Neither answer depends on the Host.

``/readyz`` checks, concurrently and each within ``CHECK_TIMEOUT_SECONDS``:

- ``database``: a new connection runs ``SELECT 1`` (so a full connection limit or a
  lost server shows, not a pooled connection's past);
- ``redis``: ``PING``, or ``skipped`` when ``REDIS_URL`` is not set;
- and whatever the apps above core register into ``readiness_checks_hook`` in their
  ``ready()``: ``artifact_store`` (``apps.artifacts``: S3 ``HeadBucket`` through the
  store's client, or for a local folder, that a file can be created in it).

It answers 200 ``{"status": "ready", "checks": {...: "ok"}}``, or 503 with
``"status": "unavailable"`` and, for each failing check, a short reason (an error's
type, "bucket not found", "timed out after 2s"), never a URL or a stack trace. The
details go to the log.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from apps.core.hooks import Hook

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"
SKIPPED = "skipped"


class CheckFailed(Exception):
    """A check's failure with a reason fit for the public answer."""


def liveness() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "ok"}


def readiness() -> tuple[int, dict[str, Any]]:
    checks = readiness_checks()
    ready = all(result in {OK, SKIPPED} for result in checks.values())
    return (200 if ready else 503), {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
    }


class HealthProbeMiddleware:
    """Answers ``GET``/``HEAD`` ``/healthz`` and ``/readyz`` (405 for other methods);
    everything else goes on. Sits in ``MIDDLEWARE`` before ``SecurityMiddleware``
    and ``CommonMiddleware`` (see the module's docstring)."""

    probes: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = {
        "/healthz": liveness,
        "/readyz": readiness,
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            return HttpResponseNotAllowed(["GET", "HEAD"])
        status, body = probe()
        response = JsonResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        if request.method == "HEAD":
            response.content = b""
        return response


def readiness_checks(timeout: float = CHECK_TIMEOUT_SECONDS) -> dict[str, str]:
    """Each dependency's state: ``ok``, ``skipped`` or a short reason. The checks run
    in threads, together; one that has not answered by the deadline is reported as
    timed out and left to finish on its own (each has its own client timeouts)."""
    checks = dict(readiness_checks_hook.items())
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=len(checks), thread_name_prefix="kiroku-readyz"
    )
    try:
        # Each thread runs in a copy of this context, so its log lines carry the
        # probe's request id.
        futures = {
            name: pool.submit(contextvars.copy_context().run, _run, name, check)
            for name, check in checks.items()
        }
    finally:
        pool.shutdown(wait=False)
    deadline = time.monotonic() + timeout
    results: dict[str, str] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            logger.warning("readiness check %s timed out after %gs", name, timeout)
            results[name] = f"timed out after {timeout:g}s"
    return results


def _run(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except CheckFailed as exc:
        logger.warning("readiness check %s failed: %s", name, exc)
        return str(exc)
    except Exception as exc:  # the type is the public reason; the message is logged
        logger.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
        return f"error: {type(exc).__name__}"


def check_database() -> str:
    """``SELECT 1`` on a connection of its own, closed afterwards."""
    database = connections.create_connection(DEFAULT_DB_ALIAS)
    if database.vendor == "postgresql":
        options = {**database.settings_dict.get("OPTIONS", {})}
        options["connect_timeout"] = max(2, round(CHECK_TIMEOUT_SECONDS))  # libpq's minimum
        options.pop("pool", None)  # one connection, not a pool of its own per probe
        database.settings_dict = {**database.settings_dict, "OPTIONS": options}
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        database.close()
    return OK


def check_redis() -> str:
    url = settings.REDIS_URL
    if not url:
        return SKIPPED
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK


# Each check returns OK or SKIPPED, or raises CheckFailed with a public reason (any
# other exception is reported by its type). Apps register theirs in ``ready()``.
readiness_checks_hook: Hook[Callable[[], str]] = Hook("readiness check")
readiness_checks_hook.register("database", check_database)
readiness_checks_hook.register("redis", check_redis)
