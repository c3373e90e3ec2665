"""Base class for Kiroku's API views."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.views import APIView

from apps.accounts.principal import Principal
from apps.core.errors import Invalid
from apps.core.ids import integer_parse
from apps.core.permissions import IsAuthenticatedPrincipal


class KirokuApi(APIView):
    """An authenticated API view. Subclasses may widen or narrow ``permission_classes``
    but must declare it; object-level roles are checked by services and selectors."""

    permission_classes = [IsAuthenticatedPrincipal]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # After authentication (a 401 comes first), before any lookup.
        if "\x00" in request.path:
            raise Invalid("the path must not contain NUL characters")
        for name, value in request.query_params.items():
            if "\x00" in value or "\x00" in name:
                raise Invalid("query parameters must not contain NUL characters", field=name)

    @property
    def principal(self) -> Principal:
        cached = getattr(self, "_principal", None)
        if cached is None:
            cached = Principal.from_request(self.request)
            self._principal = cached
        return cached

    def parse(self, serializer_class: type[serializers.Serializer], data: Any) -> dict:
        """Validate ``data`` with a small input serializer; raise Invalid naming the field."""
        if not isinstance(data, dict):
            raise Invalid("request body must be a JSON object")
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def query_int(request, name: str, *, default: int | None, minimum: int, maximum: int) -> int | None:
    """An integer query parameter within [minimum, maximum], or Invalid naming it."""
    return int_param(request.query_params, name, default=default, minimum=minimum, maximum=maximum)


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
