"""Kiroku's one error shape, and the exceptions services raise.

Every error a client can cause is answered as::

    {"error": {"code": "...", "message": "...", "field": "..."}}

Services raise ``KirokuError`` subclasses (they know nothing of HTTP frameworks);
the DRF exception handler below turns those and DRF's own exceptions into that shape.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, TypedDict

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response


class ErrorDetailOut(TypedDict):
    code: Annotated[
        str,
        "what went wrong, for programs: `invalid`, `malformed_json`, `malformed_body`, "
        "`unauthenticated`, `forbidden`, `not_found`, `conflict`, `payload_too_large`, "
        "`unsupported_encoding`, `unsupported_media_type`, `method_not_allowed`, "
        "`not_acceptable`, `throttled`, `server_error`, or a narrower one an operation "
        "documents (`unknown_key`, `search_timeout`, `already_complete`…)",
    ]
    message: Annotated[str, "what went wrong and how to fix it, for people"]
    field: Annotated[
        str | None,
        "the body field or query parameter at fault (`metrics[3].value`, `page_size`), or null",
    ]


class ErrorOut(TypedDict):
    """Every error the API answers, whatever its status."""

    error: ErrorDetailOut


class KirokuError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> ErrorOut:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class Invalid(KirokuError):
    status = 400
    code = "invalid"


class Unauthenticated(KirokuError):
    status = 401
    code = "unauthenticated"


class Forbidden(KirokuError):
    status = 403
    code = "forbidden"


class NotFound(KirokuError):
    status = 404
    code = "not_found"


class Conflict(KirokuError):
    status = 409
    code = "conflict"


class PayloadTooLarge(KirokuError):
    status = 413
    code = "payload_too_large"


class UnsupportedEncoding(KirokuError):
    status = 415
    code = "unsupported_encoding"


def not_found(what: str = "object") -> NotFound:
    """The one answer for "missing" and "not yours" alike, so nothing leaks."""
    return NotFound(f"{what} not found")


def _first_drf_detail(detail: Any, prefix: str = "") -> tuple[str | None, str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if not prefix else f"{prefix}.{key}"
            field, message = _first_drf_detail(value, name)
            return (field if key != "non_field_errors" else prefix or None), message
        return prefix or None, "invalid input"
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return _first_drf_detail(value, f"{prefix}[{index}]" if prefix else f"[{index}]")
            return prefix or None, str(value)
        return prefix or None, "invalid input"
    return prefix or None, str(detail)


_DRF_CODES = {
    drf_exceptions.NotAuthenticated: "unauthenticated",
    drf_exceptions.AuthenticationFailed: "unauthenticated",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
    drf_exceptions.ParseError: "malformed_json",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, KirokuError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound("not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if not isinstance(exc, drf_exceptions.APIException):
        return None
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        request = context.get("request")
        view = context.get("view")
        authenticate_header = view.get_authenticate_header(request) if view and request else None
        headers["WWW-Authenticate"] = authenticate_header or "Bearer"
        # A 401 is always a 401, even where DRF would have fallen back to 403.
        status = 401
    else:
        status = exc.status_code
    # Only Throttled carries ``wait`` (seconds, or None when unknown).
    wait = getattr(exc, "wait", None)
    if wait:
        # Whole seconds, rounded up: a client that waits that long is let through.
        headers["Retry-After"] = str(math.ceil(wait))
    if isinstance(exc, drf_exceptions.ValidationError):
        field, message = _first_drf_detail(exc.detail)
        code = "invalid"
    else:
        field, message = None, str(exc.detail)
        code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), "error")
    body: ErrorOut = {"error": {"code": code, "message": message, "field": field}}
    return Response(body, status=status, headers=headers)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """JSON for the API, the portal's page for everything else."""
    if _is_api(request):
        return JsonResponse(NotFound("not found").as_dict(), status=404)
    return defaults.page_not_found(request, exception)


def api_server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        body: ErrorOut = {
            "error": {"code": "server_error", "message": "internal error", "field": None}
        }
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
