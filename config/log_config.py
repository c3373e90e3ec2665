"""Django's LOGGING for Kiroku: one console handler, every record carrying the request
id (apps.core.observability), as a JSON object per line or as text; the development
server's request lines go there too, with secret URL parts masked."""

from __future__ import annotations

from typing import Any


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """``log_format`` is "json" or "text"; ``level`` a logging level name."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "apps.core.observability.RequestIdFilter"},
            "secret_paths": {"()": "apps.core.observability.ServerLogMaskFilter"},
        },
        "formatters": {
            "json": {"()": "apps.core.observability.JsonLogFormatter"},
            "text": {
                "()": "logging.Formatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
                "defaults": {"request_id": "-"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The development server's request lines (manage.py serve, runserver), in
            # the same format as every other line, their secret URL parts masked as the
            # access log masks them.
            "django.server": {
                "handlers": ["console"],
                "filters": ["secret_paths"],
                "level": level,
                "propagate": False,
            },
        },
    }
