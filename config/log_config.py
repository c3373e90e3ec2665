"""Django's LOGGING for Kiroku: one console handler, every record carrying the request
id (apps.core.observability), as a JSON object per line or as text."""

from __future__ import annotations

from typing import Any


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """``log_format`` is "json" or "text"; ``level`` a logging level name."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "apps.core.observability.RequestIdFilter"}},
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
    }
