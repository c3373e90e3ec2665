"""Request ids, structured logs and the access log.

Every request carries an id: the caller's ``X-Request-ID`` when it is a sane token
(1-64 characters of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit), otherwise
a new one. It is echoed in the response's ``X-Request-ID``, added to every log record
by ``RequestIdFilter``, and travels in the headers of each Celery task published while
it is current. A worker makes it current again for the task's run, so the chain
request → outbox dispatch → delivery (each step enqueued after commit inside the one
before) logs under the id of the request that caused it.

``KIROKU_LOG_FORMAT`` picks ``JsonLogFormatter`` (one JSON object a line) or the text
format; both are configured in ``config/settings.py`` (``LOGGING``), and Celery workers
use the same configuration instead of their own (``celery_observe``).

Nothing here imports models: ``LOGGING`` names these classes, and logging is
configured before Django loads its apps.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeGuard
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.functional import LazyObject, empty
from django.utils.log import log_response
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# The Celery message header that carries the id from publisher to worker.
TASK_HEADER = "kiroku_request_id"
ACCESS_LOGGER = "kiroku.request"
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# URL parts that are credentials (share links, invitations, password resets, store
# tickets): the access log names them instead of printing them.
_SECRET_URL_KWARGS = ("token", "ticket")
# Load balancers probe these every few seconds; a healthy answer is not worth a line.
_PROBE_PATHS = frozenset({"/healthz", "/readyz"})

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kiroku_request_id", default=None
)
logger = logging.getLogger(ACCESS_LOGGER)


def request_id_get() -> str | None:
    """The id of the request (or task) being handled in this context, or None."""
    return _request_id.get()


def request_id_is_sane(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _SANE_ID.fullmatch(value) is not None


def request_id_for(header: str | None) -> str:
    """The caller's id when it is sane, else a new one (32 hex characters)."""
    return header if request_id_is_sane(header) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record handled in a request's or task's context.
    A record outside any has no ``request_id`` attribute: the text format prints its
    default (``-``), the JSON format ``null``."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _request_id.get()
        if current is not None:
            record.request_id = current
        return True


# Attributes every LogRecord has, and those the formatters add themselves.
_RECORD_ATTRS = frozenset(RESERVED_ATTRS) | {"taskName", "request_id", "message", "asctime"}
_SCALARS = (str, int, float, bool, type(None))


class JsonLogFormatter(JsonFormatter):
    """One JSON object a line: ``time`` (ISO 8601, UTC, milliseconds), ``level``,
    ``logger``, ``message``, ``request_id`` (null outside a request or task), then the
    record's extra fields whose values are plain scalars (the access log's ``method``,
    ``path``, ``status``, ``duration_ms``, ``user_id``, ``token_id``), then
    ``exc_info`` when there is one.

    Extras holding objects are left out: Django's own loggers attach the request,
    whose text includes the query string, and that may hold secrets."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["request_id"] = getattr(record, "request_id", None)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and isinstance(value, _SCALARS):
                log_data[key] = value
        # exc_info and stack_info, already formatted by JsonFormatter.format.
        log_data.update(message_dict)


class RequestLogMiddleware:
    """Binds the request id for the request's duration, echoes it in the response,
    and writes one access line per request (logger ``kiroku.request``, INFO): method,
    path without the query string (credentials in the path are masked), status,
    duration in milliseconds, and the user and token ids when the request was
    authenticated. Healthy probe answers are logged at DEBUG.

    Placed near the top of ``MIDDLEWARE`` so that every later middleware, the view,
    and whatever it enqueues after commit run under the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request.META.get("HTTP_X_REQUEST_ID"))
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if response.status_code >= 400:
                # Django logs 4xx and 5xx answers ("Not Found: /x") after the last
                # middleware has returned, outside the request id, with the path as it
                # came; logged here (masked), it is not logged again.
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    _masked_path(request),
                    response=response,
                    request=request,
                )
            _access_log(request, response.status_code, time.perf_counter() - started)
            return response
        finally:
            _request_id.reset(token)


def _access_log(request: HttpRequest, status: int, seconds: float) -> None:
    healthy_probe = request.path_info in _PROBE_PATHS and status == 200
    user, auth = _evaluated(request, "user"), _evaluated(request, "auth")
    path = _masked_path(request)
    logger.log(
        logging.DEBUG if healthy_probe else logging.INFO,
        "%s %s %s",
        request.method,
        path,
        status,
        extra={
            "method": request.method,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "user_id": user.pk if getattr(user, "is_authenticated", False) else None,
            "token_id": getattr(auth, "pk", None),
        },
    )


def _evaluated(request: HttpRequest, name: str) -> Any:
    """``request.<name>`` if something already computed it, else None. Reading a lazy
    ``request.user`` here would cost a session query the view did not need."""
    value = request.__dict__.get(name)
    if isinstance(value, LazyObject):
        wrapped = value._wrapped
        return None if wrapped is empty else wrapped
    return value


def _masked_path(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return _secrets_named(request.path, match.kwargs if match is not None else {})


def _secrets_named(path: str, kwargs: dict[str, Any]) -> str:
    """``path`` with each secret URL part among the route's ``kwargs`` named instead
    (``/s/<token>``)."""
    for name in _SECRET_URL_KWARGS:
        value = kwargs.get(name)
        if isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path


def path_masked(path: str) -> str:
    """A URL path (percent-encoded or not, with or without its query string) as the
    access log writes it: decoded, without the query string (``?next=/invite/…`` is a
    credential too), and the secret parts of the route it resolves to named instead."""
    path = unquote(path.partition("?")[0].partition("#")[0])
    try:
        match = resolve(path)
    except (Resolver404, ValueError):
        # Resolves to nothing: holds nothing the application would treat as a secret.
        return path
    return _secrets_named(path, match.kwargs)


# A method and a path inside a message: a request line (``GET /s/abc?x=1 HTTP/1.1``),
# also where http.server quotes a malformed one (``Bad request syntax ('GET /s/abc x')``).
_REQUEST_LINE = re.compile(r"\b([A-Z]{3,10}) (/[^\s'\"]*)")


class ServerLogMaskFilter(logging.Filter):
    """For the development server's request log (logger ``django.server``, what
    ``manage.py serve`` and ``runserver`` print: ``"GET /s/<token> HTTP/1.1" 200 512``):
    the path of every request line in the record's arguments is written as the access
    log writes it (``path_masked``). A record it cannot read is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            try:
                record.args = tuple(
                    _REQUEST_LINE.sub(_request_line_masked, arg) if isinstance(arg, str) else arg
                    for arg in record.args
                )
            except Exception:  # logging must never fail a request
                return True
        return True


def _request_line_masked(found: re.Match[str]) -> str:
    method, target = found.groups()
    return f"{method} {path_masked(target)}"


# Celery: the id travels in the task's headers and is current while the task runs.

_task_tokens: dict[str, contextvars.Token[str | None]] = {}


def _on_before_task_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    current = _request_id.get()
    if current is not None and headers is not None:
        headers.setdefault(TASK_HEADER, current)


def _on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    carried = getattr(request, TASK_HEADER, None)
    if carried is None:
        carried = (getattr(request, "headers", None) or {}).get(TASK_HEADER)
    # A task run in-process (no broker) was not published: it keeps the id of the
    # context that ran it. A task without one (periodic jobs) runs without.
    if task_id is not None and request_id_is_sane(carried):
        _task_tokens[task_id] = _request_id.set(carried)


def _on_task_postrun(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        _request_id.reset(token)


def _on_setup_logging(**_: Any) -> None:
    """Workers log through Django's ``LOGGING`` (JSON or text, with request ids)
    instead of Celery's own format. Connecting this signal is what stops Celery from
    configuring logging itself."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _on_worker_init(**_: Any) -> None:
    from apps.core.metrics import worker_exporter_start

    worker_exporter_start()


def celery_observe() -> None:
    """Connect the request-id propagation, the logging setup and the worker's metrics
    exporter to Celery's signals. Called once, by ``config/celery.py``."""
    from celery import signals

    signals.before_task_publish.connect(_on_before_task_publish, dispatch_uid="kiroku-rid-pub")
    signals.task_prerun.connect(_on_task_prerun, dispatch_uid="kiroku-rid-prerun")
    signals.task_postrun.connect(_on_task_postrun, dispatch_uid="kiroku-rid-postrun")
    signals.setup_logging.connect(_on_setup_logging, dispatch_uid="kiroku-logging")
    signals.worker_init.connect(_on_worker_init, dispatch_uid="kiroku-worker-metrics")
