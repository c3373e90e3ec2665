"""How the OpenAPI schema (and so the API docs at /api/docs/) is made, in one place.

``KirokuAutoSchema`` is DRF's DEFAULT_SCHEMA_CLASS. It adds three things to what
drf-spectacular does on its own, so that a view needs no more than its
``extend_schema(responses=...)``:

- **Areas.** Each operation is tagged with the area of the app that serves it
  (``API_AREAS``); ``tags_in_order`` (a postprocessing hook) describes the areas and
  orders them. A view may still name its own tags with ``extend_schema(tags=[...])``.
- **Typed answers.** A response body is declared as the ``TypedDict`` its output
  function returns (``responses={200: RunOut}``; a list as ``Page[RunOut]``). Each
  TypedDict becomes one schema component named after the class less its ``Out``
  (``RunOut`` → ``Run``, ``Page[RunOut]`` → ``RunPage``), nested ones by reference.
  The same class is the output function's return type, so the type checker holds the
  function to what the schema says. See ``type_schema`` for the types understood.
- **Errors.** Every operation lists the errors it can answer (``error_responses``),
  each with the one ``Error`` component (apps.core.errors.ErrorOut). A view declares
  any other error status it answers by its description alone
  (``409: OpenApiResponse(description="...")``) and gets the same body.
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Generic, Literal, NotRequired, Required, TypedDict, TypeVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, ResolvedComponent
from drf_spectacular.utils import Direction, OpenApiResponse

from apps.core.errors import ErrorOut
from apps.core.parsers import MAX_BODY_BYTES

# -- areas ---------------------------------------------------------------------------------

# (tag, description), in the order the docs show them.
API_AREAS: tuple[tuple[str, str], ...] = (
    ("runs", "Create, log to, finish, search and compare runs; metric histories."),
    ("artifacts", "Upload (direct to storage, multipart above a threshold) and download files."),
    ("collaboration", "Comments and mentions, and share links that show one run read-only."),
    ("notifications", "Slack and Notion destinations, the rules that post to them, deliveries."),
    ("CI", "Results reported by a CI job (the GitHub Action) and compared with the baseline."),
    ("models", "The model registry: models, versions with lineage, aliases, promotions."),
    ("projects", "Projects, their members and roles, settings, deletion, and the audit log."),
    ("accounts", "Who the caller is: the user and the token."),
)
# The app a view lives in (apps.<app>...) → its area.
APP_AREAS = {
    "runs": "runs",
    "artifacts": "artifacts",
    "collab": "collaboration",
    "notifications": "notifications",
    "ci": "CI",
    "registry": "models",
    "projects": "projects",
    "accounts": "accounts",
}


def area_of(view_module: str) -> str | None:
    """The area of a view from its module's dotted name (``apps.collab.api.comments`` →
    ``"collaboration"``), or None for a module outside the areas."""
    parts = view_module.split(".")
    if len(parts) < 2 or parts[0] != "apps":
        return None
    return APP_AREAS.get(parts[1])


def tags_in_order(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: the schema's top-level ``tags``, so that the docs show the
    areas in API_AREAS's order, each with its description."""
    result["tags"] = [{"name": name, "description": text} for name, text in API_AREAS]
    return result


# -- the wire types every app shares -------------------------------------------------------


class OpenApi:
    """``Annotated`` metadata giving a field's schema outright, for what a Python type
    cannot say (``Annotated[str, OpenApi({"type": "string", "format": "uri"})]``)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema


# A float64 as the API writes it: a number, or one of the strings that stand for the
# values JSON has no number for (apps.core.floats.float_out).
WireFloat = Annotated[
    float | str,
    OpenApi(
        {
            "oneOf": [
                {"type": "number", "format": "double"},
                {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
            ],
            "description": 'a number, or "NaN", "Infinity" or "-Infinity"',
        }
    ),
]

T = TypeVar("T")


class Page(TypedDict, Generic[T]):
    """One page of a list: its items, in the order the operation gives, and the
    cursor that continues after them."""

    results: list[T]
    next: Annotated[str | None, "pass as `cursor` to get the next page; null on the last page"]


# -- TypedDicts → schema components --------------------------------------------------------

_BASIC: dict[Any, dict[str, str]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number", "format": "double"},
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
}
_LITERAL_TYPES = {str: "string", int: "integer", bool: "boolean"}


def is_wire_type(hint: Any) -> bool:
    """Whether ``hint`` is a TypedDict (``RunOut``) or one made concrete (``Page[RunOut]``)."""
    return typing.is_typeddict(typing.get_origin(hint) or hint)


def component_name(hint: Any) -> str:
    """``RunOut`` → ``Run``; ``Page[RunOut]`` → ``RunPage``."""
    origin = typing.get_origin(hint) or hint
    name: str = origin.__name__
    return "".join(component_name(arg) for arg in typing.get_args(hint)) + name.removesuffix("Out")


def type_schema(hint: Any, registry: ComponentRegistry) -> dict[str, Any]:
    """The OpenAPI schema of a type hint from an output module, registering a component
    in ``registry`` for each TypedDict it meets (and answering a reference to it).

    Understood: str, int, float, bool, datetime, date, Any (any JSON value),
    ``list[X]``, ``dict[str, X]``, ``X | None`` (nullable), unions (``oneOf``),
    ``Literal[...]``, TypedDicts (generic ones too) with ``NotRequired`` keys, and
    ``Annotated[X, ...]`` whose metadata may be a description (a str), an Enum or
    Django choices class (the allowed values) or an ``OpenApi`` schema. Raises TypeError
    naming any other type, so an undocumentable field fails the build, not the docs."""
    hint, metadata = _unwrap(hint)
    given = [m.schema for m in metadata if isinstance(m, OpenApi)]
    choices = [m for m in metadata if inspect.isclass(m) and issubclass(m, Enum)]
    if given:
        schema = copy.deepcopy(given[0])
    elif choices:
        schema = _enum_component(choices[0], registry)
    else:
        schema = _plain_schema(hint, registry)
    text = " ".join(m for m in metadata if isinstance(m, str))
    if text:
        schema = _beside_ref(schema)
        schema["description"] = text
    return schema


def _beside_ref(schema: dict[str, Any]) -> dict[str, Any]:
    # OpenAPI 3.0 ignores whatever sits next to a $ref: wrap it to say more.
    return {"allOf": [schema]} if "$ref" in schema else schema


def _unwrap(hint: Any) -> tuple[Any, list[Any]]:
    """``hint`` without its ``Annotated``/``NotRequired``/``Required`` layers, and the
    ``Annotated`` metadata they held."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(hint)
        if origin is Annotated:
            metadata.extend(hint.__metadata__)
            hint = hint.__origin__
        elif origin is NotRequired or origin is Required:
            hint = typing.get_args(hint)[0]
        else:
            return hint, metadata


def _plain_schema(hint: Any, registry: ComponentRegistry) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if is_wire_type(hint):
        return _component(hint, registry)
    if hint is Any:
        return {}
    if origin is typing.Union or origin is types.UnionType:
        options = [arg for arg in args if arg is not type(None)]
        if len(options) == 1:
            schema = type_schema(options[0], registry)
        else:
            schema = {"oneOf": [type_schema(option, registry) for option in options]}
        if len(options) < len(args):
            schema = _beside_ref(schema)
            schema["nullable"] = True
        return schema
    if origin is Literal:
        schema = {"enum": list(args)}
        kinds = {_LITERAL_TYPES.get(type(arg)) for arg in args}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if origin is list or hint is list:
        return {"type": "array", "items": type_schema(args[0], registry) if args else {}}
    if origin is dict or hint is dict:
        values = type_schema(args[1], registry) if args else {}
        return {"type": "object", "additionalProperties": values}
    if hint in _BASIC:
        return dict(_BASIC[hint])
    raise TypeError(f"no OpenAPI schema for {hint!r}: see apps.core.schema.type_schema")


def _schema_component(name: str, source: Any) -> ResolvedComponent:
    return ResolvedComponent(  # type: ignore[no-untyped-call]
        name=name, type=ResolvedComponent.SCHEMA, object=source
    )


def _component(hint: Any, registry: ComponentRegistry) -> dict[str, Any]:
    component = _schema_component(component_name(hint), hint)
    # Another type of the same name makes drf-spectacular warn (and the build fail).
    if component in registry:
        return component.ref
    # Registered before its fields are resolved, so that a type may hold itself (a
    # comment's replies are comments).
    component.schema = {}
    registry.register(component)
    component.schema = _typed_dict_schema(hint, registry)
    return component.ref


def _enum_component(choices: type[Enum], registry: ComponentRegistry) -> dict[str, Any]:
    # A component named after the class (RunStatus), which also keeps the same field
    # name with other values (a delivery's status) clear of the enum hook's renaming.
    component = _schema_component(choices.__name__, choices)
    if component not in registry:
        values = [choice.value for choice in choices]
        kinds = {_LITERAL_TYPES.get(type(value)) for value in values}
        component.schema = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            component.schema["type"] = kinds.pop()
        registry.register(component)
    return component.ref


def _typed_dict_schema(hint: Any, registry: ComponentRegistry) -> dict[str, Any]:
    origin = typing.get_origin(hint) or hint
    bindings = _type_arguments(hint)
    properties: dict[str, Any] = {}
    required: list[str] = []
    # With include_extras, NotRequired stays visible even where the class body's
    # annotations were strings (``from __future__ import annotations``), which Python
    # 3.11's own __required_keys__ misses.
    for key, field in typing.get_type_hints(origin, include_extras=True).items():
        field = _bind(field, bindings)
        properties[key] = type_schema(field, registry)
        if _required(field, total=origin.__total__):
            required.append(key)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if origin.__doc__:
        schema["description"] = inspect.cleandoc(origin.__doc__)
    return schema


def _required(field: Any, *, total: bool) -> bool:
    while True:
        origin = typing.get_origin(field)
        if origin is NotRequired:
            return False
        if origin is Required:
            return True
        if origin is not Annotated:
            return total
        field = field.__origin__


def _type_arguments(hint: Any) -> dict[Any, Any]:
    """The type arguments a TypedDict's fields are seen with: those of ``hint``
    (``Page[RunOut]``) and of any generic TypedDict it extends (``Page[RunOut]`` as a
    base class)."""
    origin = typing.get_origin(hint) or hint
    bindings: dict[Any, Any] = {}
    for base in getattr(origin, "__orig_bases__", ()):
        if typing.get_origin(base) is not None and is_wire_type(base):
            bindings.update(_type_arguments(base))
    if typing.get_origin(hint) is not None:
        bindings.update(zip(origin.__parameters__, typing.get_args(hint), strict=True))
    return bindings


def _bind(hint: Any, bindings: dict[Any, Any]) -> Any:
    if isinstance(hint, TypeVar):
        return bindings[hint]
    parameters = getattr(hint, "__parameters__", ())
    if parameters:
        return hint[tuple(bindings[parameter] for parameter in parameters)]
    return hint


# -- errors --------------------------------------------------------------------------------

_ERRORS = {
    "400": "Invalid request: `error.field` names the body field or query parameter at "
    "fault (null when it is the request as a whole) and `error.message` says how to fix it.",
    "401": "No valid credentials: send `Authorization: Bearer krk_…` (a token that has "
    "not expired nor been revoked).",
    "403": "Authenticated, but the caller's role in the project (or the token's kind) "
    "does not allow this.",
    "404": "No such object, or one the caller may not read: the answer is the same.",
    "409": "The request conflicts with the object's state.",
    "413": f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB (once inflated).",
    "415": "The body is not JSON, or its Content-Encoding is neither gzip nor deflate.",
    "429": "Too many requests: the message names the limit met; retry after `Retry-After`.",
}
_ERROR_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": 'the scheme to authenticate with: `Bearer realm="kiroku"`',
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer"},
            "description": "seconds to wait before the request is let through",
        }
    },
}


class KirokuAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        area = area_of(type(self.view).__module__)
        return [area] if area else super().get_tags()

    def error_responses(self) -> list[str]:
        """The error statuses every operation like this one can answer: 400 (a query
        parameter, the path or the body); 401 and 403 when it needs credentials; 404
        when its path names an object; 413 and 415 when it reads a body; 429 (every
        view is throttled)."""
        codes = ["400"]
        security = self.get_auth()
        if security and {} not in security:
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in {"POST", "PUT", "PATCH"} and self.get_request_serializer() is not None:
            codes += ["413", "415"]
        codes.append("429")
        return codes

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: list[str] | None = None,
        direction: Direction = "response",
    ) -> dict[str, Any]:
        if isinstance(serializer, OpenApiResponse) and is_wire_type(serializer.response):
            serializer = OpenApiResponse(
                response=type_schema(serializer.response, self.registry),
                description=serializer.description,
                examples=serializer.examples,
            )
        elif is_wire_type(serializer):
            serializer = type_schema(serializer, self.registry)
        return super()._get_response_for_code(  # type: ignore[no-untyped-call,no-any-return]
            serializer, status_code, media_types, direction
        )

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self.error_responses():
            responses.setdefault(code, {})
        error_ref = type_schema(ErrorOut, self.registry)
        answers = {code: value for code, value in responses.items() if not _is_error(code)}
        for code in sorted(code for code in responses if _is_error(code)):
            response = responses[code]
            answers[code] = {
                **response,
                "description": response.get("description") or _ERRORS.get(code, "An error."),
                "content": {"application/json": {"schema": error_ref}},
            }
            if code in _ERROR_HEADERS:
                answers[code]["headers"] = {**_ERROR_HEADERS[code], **response.get("headers", {})}
        return answers


def _is_error(code: str) -> bool:
    return code.isdigit() and int(code) >= 400
