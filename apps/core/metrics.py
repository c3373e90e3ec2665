"""Kiroku's Prometheus metrics, and where they are served.

The web process serves ``/metrics`` (``metrics_view``): django-prometheus's request
metrics (``django_http_requests_latency_seconds_by_view_method``: latency by view)
and Kiroku's counters below. Celery workers, which make the deliveries, serve theirs
on ``KIROKU_WORKER_METRICS_PORT`` (``worker_exporter_start``).

With several processes (gunicorn workers, Celery's prefork pool) each process counts
in files under ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode,
chosen by that variable when prometheus_client is first imported) and a scrape sums
them. Each gunicorn master and each Celery worker needs a folder of its own; it is
emptied when they start. Gunicorn's config calls ``gunicorn_on_starting`` and
``gunicorn_child_exit``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
    start_http_server,
)

logger = logging.getLogger(__name__)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# rate(kiroku_ingested_points_total[1m]) is ingestion in points per second.
INGESTED_POINTS = Counter(
    "kiroku_ingested_points",
    "Metric points in applied log batches (counted after commit; a replayed batch counts nothing).",
)
DELIVERIES = Counter(
    "kiroku_notification_deliveries",
    "Delivery attempts by destination kind and outcome: sent, retry, failed, or "
    "skipped (already done, claimed by another worker, or postponed for pacing).",
    ["kind", "outcome"],
)

# A request that came through a proxy is not local, whatever its socket says.
_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def points_ingested(count: int) -> None:
    INGESTED_POINTS.inc(count)


def delivery_outcome(*, kind: str, outcome: str) -> None:
    DELIVERIES.labels(kind=kind, outcome=outcome).inc()


def _multiproc_dir() -> str | None:
    # prometheus_client reads this variable itself; so do we, since gunicorn's
    # master calls the hooks below before Django's settings exist.
    return os.environ.get(MULTIPROC_DIR_VARIABLE) or None


def metrics_registry() -> CollectorRegistry:
    """What a scrape reads: this process's registry, or in multiprocess mode a fresh
    one that sums every process's files."""
    if _multiproc_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the Prometheus text format, for a caller with
    ``Authorization: Bearer <KIROKU_METRICS_TOKEN>`` or on the loopback address (and
    not forwarded by a proxy). Anyone else gets the 404 of a path that does not exist.
    """
    if not _may_scrape(request):
        raise Http404("not found")
    if request.method not in {"GET", "HEAD"}:
        return HttpResponseNotAllowed(["GET", "HEAD"])
    body = generate_latest(metrics_registry()) if request.method == "GET" else b""
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def _may_scrape(request: HttpRequest) -> bool:
    expected = settings.KIROKU_METRICS_TOKEN
    scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(secret.strip().encode(), expected.encode())
    ):
        return True
    return _from_loopback(request)


def _from_loopback(request: HttpRequest) -> bool:
    if any(name in request.META for name in _FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def multiproc_dir_clear() -> None:
    """Delete the counters other processes left in the multiprocess folder (an
    earlier run's would be summed into this one's). This process's own file stays:
    it may already be open. Only prometheus_client's ``*.db`` files are touched. A
    no-op outside multiprocess mode."""
    folder = _multiproc_dir()
    if folder is None:
        return
    own = f"_{os.getpid()}.db"
    for entry in Path(folder).glob("*.db"):
        if not entry.name.endswith(own):
            entry.unlink(missing_ok=True)


def gunicorn_on_starting(server: Any) -> None:
    """Gunicorn's ``on_starting`` hook (in the master, before any worker exists)."""
    multiproc_dir_clear()


def gunicorn_child_exit(server: Any, worker: Any) -> None:
    """Gunicorn's ``child_exit`` hook: a dead worker's live gauges stop counting."""
    if _multiproc_dir() is not None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # untyped in prometheus_client


def worker_exporter_start() -> None:
    """In a Celery worker's main process, before its pool starts: serve the metrics
    on ``KIROKU_WORKER_METRICS_PORT`` (all interfaces, no authentication: expose that
    port to the monitoring network only). Nothing when the port is 0."""
    port = settings.KIROKU_WORKER_METRICS_PORT
    if not port:
        return
    multiproc_dir_clear()
    start_http_server(port, registry=metrics_registry())
    logger.info("serving Prometheus metrics on port %s", port)
