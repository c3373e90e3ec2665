"""Kiroku's observability settings: logs (format and level; LOGGING itself is built by
config/log_config.py), the /metrics endpoint's token, and the Celery workers' metrics
with prometheus_client's multiprocess folder. apps/core/observability.py and
apps/core/metrics.py use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.env import env_choice, env_int, env_str
from config.log_config import logging_config

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
METRICS_TOKEN_MIN_LENGTH = 16


def observability_settings(*, production: bool) -> dict[str, Any]:
    """KIROKU_LOG_FORMAT, LOGGING, KIROKU_METRICS_TOKEN and KIROKU_WORKER_METRICS_PORT,
    read from the environment:

    - ``KIROKU_LOG_FORMAT``: one line per record, a JSON object (time, level, logger,
      message, request_id, and the access log's method, path, status, duration_ms,
      user_id, token_id) or text; JSON by default in ``production``.
      ``KIROKU_LOG_LEVEL`` (default info) sets LOGGING's level.
    - ``KIROKU_METRICS_TOKEN``: /metrics answers "Authorization: Bearer <token>" and
      callers on the loopback address (not through a proxy); anyone else gets a 404.
      Unset: loopback only.
    - ``KIROKU_WORKER_METRICS_PORT``: Celery workers serve their metrics (delivery
      outcomes) on this port, unauthenticated; 0 (the default): they do not.
    - ``PROMETHEUS_MULTIPROC_DIR`` is only checked: prometheus_client reads it itself.
      In its multiprocess mode (several gunicorn workers, Celery's prefork pool) each
      process counts in files there and a scrape sums them; one empty folder per
      gunicorn master and per Celery worker.

    Raises ImproperlyConfigured, naming the variable, for a malformed value, a metrics
    token shorter than 16 characters, a PROMETHEUS_MULTIPROC_DIR that is not an existing
    folder, or a worker metrics port without that folder.
    """
    log_format = env_choice("KIROKU_LOG_FORMAT", "json" if production else "text", ("json", "text"))
    level = env_choice("KIROKU_LOG_LEVEL", "info", LOG_LEVELS).upper()
    metrics_token = env_str("KIROKU_METRICS_TOKEN")
    if metrics_token is not None and len(metrics_token) < METRICS_TOKEN_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"KIROKU_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters long"
        )
    worker_metrics_port = env_int("KIROKU_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
    prometheus_dir = env_str("PROMETHEUS_MULTIPROC_DIR")
    if prometheus_dir is not None and not Path(prometheus_dir).is_dir():
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR must be an existing folder, got {prometheus_dir!r}"
        )
    if worker_metrics_port and prometheus_dir is None:
        raise ImproperlyConfigured(
            "KIROKU_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (a folder of the worker's "
            "own): a worker's pool processes share their counts through it"
        )
    return {
        "KIROKU_LOG_FORMAT": log_format,
        "LOGGING": logging_config(log_format=log_format, level=level),
        "KIROKU_METRICS_TOKEN": metrics_token,
        "KIROKU_WORKER_METRICS_PORT": worker_metrics_port,
    }
