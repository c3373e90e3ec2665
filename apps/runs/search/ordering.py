"""``order_by`` for run search, and keyset cursors over any list of sort keys.

Every sort puts runs without a value (no such metric, a NaN ``last``, an unfinished
run's ``end_time``) after all runs with one, ascending or descending, and ends with
Run.pk so the order is total and a cursor can resume exactly where a page ended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, OrderBy, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable

from apps.core.cursors import cursor_decode, cursor_encode
from apps.core.errors import Invalid
from apps.runs.models import MetricSummary, Param, Run, Tag
from apps.runs.search.compiler import duration_expression
from apps.runs.search.expressions import BinaryCollate
from apps.runs.search.fields import Field, ValueType, resolve_identifier
from apps.runs.search.lexer import Kind, Lexer

MAX_ORDER_BY_LENGTH = 2_000
MAX_ORDER_KEYS = 10

_CURSOR_VERSION = 1
_CURSOR_ERROR = "cursor does not belong to this filter and order_by; start again without one"


@dataclass(frozen=True)
class SortKey:
    field: Field
    descending: bool


DEFAULT_ORDER = (SortKey(Field("attribute", "created", ValueType.TIME), descending=True),)


@dataclass(frozen=True)
class SortColumn:
    """One ORDER BY column. ``kind`` is how its values travel in a cursor: ``float``,
    ``text``, ``time``, ``duration`` or ``int`` (the pk)."""

    alias: str
    expression: Combinable
    descending: bool
    kind: str


def parse_order_by(text: str) -> tuple[SortKey, ...]:
    """The sort keys ``text`` names, comma-separated ``identifier [ASC|DESC]`` items
    (ASC when omitted); ``DEFAULT_ORDER`` (newest first) when blank.

    Raises SearchSyntaxError (``field="order_by"``) naming the column of the problem,
    and Invalid past MAX_ORDER_KEYS keys or MAX_ORDER_BY_LENGTH characters.
    """
    if not isinstance(text, str):
        raise Invalid("order_by must be a string", field="order_by")
    if len(text) > MAX_ORDER_BY_LENGTH:
        raise Invalid(
            f"order_by is {len(text)} characters long; the limit is {MAX_ORDER_BY_LENGTH}",
            field="order_by",
        )
    lexer = Lexer(text, field="order_by")
    tok = lexer.next()
    if tok.kind is Kind.EOF:
        return DEFAULT_ORDER
    keys: list[SortKey] = []
    while True:
        if tok.kind is not Kind.IDENT:
            raise lexer.error(
                tok.position,
                f"unexpected {tok.describe()}",
                "expected a sort key such as metrics.acc DESC",
            )
        field = resolve_identifier(tok, lexer)
        if field.entity == "dataset":
            raise lexer.error(
                tok.position,
                f"cannot sort by {field.label}",
                "a run may have several datasets",
            )
        if len(keys) == MAX_ORDER_KEYS:
            raise lexer.error(tok.position, "too many sort keys", f"the limit is {MAX_ORDER_KEYS}")
        tok = lexer.next()
        descending = False
        if tok.kind is Kind.KEYWORD and tok.value in ("asc", "desc"):
            descending = tok.value == "desc"
            tok = lexer.next()
        keys.append(SortKey(field, descending))
        if tok.kind is Kind.EOF:
            return tuple(keys)
        if tok.kind is not Kind.COMMA:
            raise lexer.error(
                tok.position, f"unexpected {tok.describe()}", "expected ASC, DESC or ','"
            )
        tok = lexer.next()


def sort_columns(keys: tuple[SortKey, ...]) -> list[SortColumn]:
    """The ORDER BY columns for ``keys``, ending with the pk tie-break (in the
    direction of the last key). A param sorts by its number, then by its text."""
    columns: list[SortColumn] = []

    def add(expression: Combinable, descending: bool, kind: str) -> None:
        columns.append(SortColumn(f"search_sort_{len(columns)}", expression, descending, kind))

    for key in keys:
        field, desc = key.field, key.descending
        if field.entity == "metric":
            summaries = MetricSummary.objects.filter(run=OuterRef("pk"), key=field.key)
            add(Subquery(summaries.values("last")[:1]), desc, "float")
        elif field.entity == "param":
            params = Param.objects.filter(run=OuterRef("pk"), key=field.key)
            add(Subquery(params.values("value_num")[:1]), desc, "float")
            add(BinaryCollate(Subquery(params.values("value")[:1])), desc, "text")
        elif field.entity == "tag":
            tags = Tag.objects.filter(run=OuterRef("pk"), key=field.key)
            add(BinaryCollate(Subquery(tags.values("value")[:1])), desc, "text")
        elif field.key == "author":
            users = get_user_model().objects.filter(pk=OuterRef("author_id"))
            add(BinaryCollate(Subquery(users.values("username")[:1])), desc, "text")
        elif field.key == "duration":
            add(duration_expression(), desc, "duration")
        else:
            column = F(field.attribute.column or "")
            if field.type is ValueType.TIME:
                add(column, desc, "time")
            else:
                add(BinaryCollate(column), desc, "text")
    columns.append(SortColumn("pk", F("pk"), keys[-1].descending, "int"))
    return columns


def apply_order(queryset: QuerySet[Run], columns: list[SortColumn]) -> QuerySet[Run]:
    """``queryset`` with each sort value annotated (as ``search_sort_<i>``) and ordered."""
    annotations = {c.alias: c.expression for c in columns if c.alias != "pk"}
    ordering: list[OrderBy] = [
        F(c.alias).desc(nulls_last=True) if c.descending else F(c.alias).asc(nulls_last=True)
        for c in columns
    ]
    return queryset.annotate(**annotations).order_by(*ordering)


def keyset_after(columns: list[SortColumn], values: list[Any]) -> Q:
    """Rows strictly after the row whose sort values are ``values``, in ``columns``'
    order with NULLs last: an OR, over each column i, of "equal on every column before
    i and after on column i". Nothing sorts after a NULL, so a NULL cursor value only
    contributes its equality (``IS NULL``) to the later terms."""
    terms: list[Q] = []
    equal_so_far = Q()
    for column, value in zip(columns, values, strict=True):
        alias = column.alias
        if value is None:
            equal_so_far &= Q(**{f"{alias}__isnull": True})
            continue
        beyond = Q(**{f"{alias}__{'lt' if column.descending else 'gt'}": value})
        if column.alias != "pk":
            beyond |= Q(**{f"{alias}__isnull": True})
        terms.append(equal_so_far & beyond)
        equal_so_far &= Q(**{alias: value})
    if not terms:
        return Q(pk__in=[])
    after = terms[0]
    for term in terms[1:]:
        after |= term
    return after


def order_signature(keys: tuple[SortKey, ...], filter_text: str) -> str:
    """A short digest of what a cursor is valid for: this order and this filter."""
    parts = [f"{k.field.entity}\x1f{k.field.key}\x1f{int(k.descending)}" for k in keys]
    material = "\x1e".join(parts) + "\x1d" + filter_text.strip()
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def cursor_for(row: Run, columns: list[SortColumn], signature: str) -> str:
    """The opaque cursor that resumes after ``row``."""
    values = [_encode(c.kind, getattr(row, c.alias)) for c in columns]
    return cursor_encode({"v": _CURSOR_VERSION, "sig": signature, "after": values})


def cursor_values(cursor: str, columns: list[SortColumn], signature: str) -> list[Any]:
    """The sort values a cursor resumes after. Raises Invalid(field="cursor") for a
    cursor this server did not sign or one issued for another filter or order_by."""
    payload = cursor_decode(cursor, field="cursor")
    if (
        not isinstance(payload, dict)
        or payload.get("v") != _CURSOR_VERSION
        or payload.get("sig") != signature
        or not isinstance(payload.get("after"), list)
        or len(payload["after"]) != len(columns)
    ):
        raise Invalid(_CURSOR_ERROR, field="cursor")
    try:
        values = [_decode(c.kind, raw) for c, raw in zip(columns, payload["after"], strict=True)]
    except (TypeError, ValueError, OverflowError):
        raise Invalid(_CURSOR_ERROR, field="cursor") from None
    if values[-1] is None:
        raise Invalid(_CURSOR_ERROR, field="cursor")
    return values


# Type tags keep a cursor exact through JSON: floats travel as repr() text (JSON has
# no Infinity or NaN), times as ISO-8601, durations as whole microseconds.
def _encode(kind: str, value: Any) -> list[Any] | None:
    if value is None:
        return None
    if kind == "float":
        return ["f", repr(float(value))]
    if kind == "text":
        return ["s", str(value)]
    if kind == "time":
        return ["t", value.isoformat()]
    if kind == "duration":
        return ["d", value // timedelta(microseconds=1)]
    return ["i", int(value)]


def _decode(kind: str, raw: Any) -> Any:
    if raw is None:
        return None
    tag, value = raw
    expected = {"float": "f", "text": "s", "time": "t", "duration": "d", "int": "i"}[kind]
    if tag != expected:
        raise ValueError(f"cursor value tagged {tag!r}, expected {expected!r}")
    if kind == "float":
        return float(value)
    if kind == "text":
        if not isinstance(value, str):
            raise TypeError("text cursor value is not a string")
        return value
    if kind == "time":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("cursor time has no offset")
        return parsed
    if kind == "duration":
        return timedelta(microseconds=_integer(value))
    return _integer(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("cursor value is not an integer")
    return value
