"""Base class for Kiroku's API views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, overload

from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.errors import Invalid
from apps.core.hooks import Hook
from apps.core.ids import integer_parse
from apps.core.permissions import IsAuthenticatedPrincipal

# Who is acting in an authenticated request: ``apps.accounts`` registers
# ``Principal.from_request`` (core knows no accounts, roles or tokens).
principal_source: Hook[Callable[[Any], Any]] = Hook("principal source")


class KirokuApi(APIView):
    """An authenticated API view. Subclasses may widen or narrow ``permission_classes``
    but must declare it; object-level roles are checked by services and selectors."""

    permission_classes = [IsAuthenticatedPrincipal]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # After authentication (a 401 comes first), before any lookup.
        if "\x00" in request.path:
            raise Invalid("the path must not contain NUL characters")
        for name, value in request.query_params.items():
            if "\x00" in value or "\x00" in name:
                raise Invalid("query parameters must not contain NUL characters", field=name)

    @property
    def principal(self) -> Any:
        """The acting ``apps.accounts.principal.Principal``, built once per request."""
        cached = getattr(self, "_principal", None)
        if cached is None:
            cached = principal_source.only()(self.request)
            self._principal = cached
        return cached


def query_bool(request: Any, name: str) -> bool:
    """A boolean query parameter (``true``/``false``/``1``/``0``, any case; absent is
    false), or Invalid naming it."""
    raw = request.query_params.get(name, "false").lower()
    if raw not in {"true", "false", "1", "0"}:
        raise Invalid(f"{name} must be true or false", field=name)
    return raw in {"true", "1"}


@overload
def query_int(request: Any, name: str, *, default: int, minimum: int, maximum: int) -> int: ...
@overload
def query_int(
    request: Any, name: str, *, default: None, minimum: int, maximum: int
) -> int | None: ...
def query_int(
    request: Any, name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    """An integer query parameter within [minimum, maximum], or Invalid naming it."""
    return int_param(request.query_params, name, default=default, minimum=minimum, maximum=maximum)


@overload
def int_param(
    params: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int
) -> int: ...
@overload
def int_param(
    params: Mapping[str, str], name: str, *, default: None, minimum: int, maximum: int
) -> int | None: ...
def int_param(
    params: Mapping[str, str], name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    """``params[name]`` as an integer within [minimum, maximum], or Invalid naming it."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = integer_parse(raw)
    if value is None:
        raise Invalid(f"{name} must be an integer", field=name)
    if not minimum <= value <= maximum:
        raise Invalid(f"{name} must be between {minimum} and {maximum}", field=name)
    return value
