"""Compile a filter tree into a ``Q`` over Run.

Values only ever travel as query parameters; no SQL text is built from the filter.
Metrics, params, tags and datasets become ``EXISTS`` subqueries keyed by
``(run, key)``, which PostgreSQL answers from the MetricSummary primary key and the
Param/Tag ``(run, key)`` unique indexes.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import DurationField, Exists, Expression, ExpressionWrapper, F, OuterRef, Q
from django.db.models import lookups as L
from django.db.models.expressions import Combinable

from apps.runs.models import DatasetVersion, MetricSummary, Param, Tag
from apps.runs.search.expressions import BinaryCollate, ILike, Like
from apps.runs.search.fields import ParamOperand, ValueType
from apps.runs.search.parser import LIKE_OPS, And, Comparison, Node, Not, Or

_ORDERING_LOOKUPS = {
    "<": L.LessThan,
    "<=": L.LessThanOrEqual,
    ">": L.GreaterThan,
    ">=": L.GreaterThanOrEqual,
}
_KEYED_MODELS: dict[str, type[MetricSummary] | type[Param] | type[Tag]] = {
    "metric": MetricSummary,
    "param": Param,
    "tag": Tag,
}


def compile_filter(node: Node | None) -> Q:
    """A ``Q`` selecting the runs ``node`` matches; the empty ``Q()`` for ``None``.

    ``NOT`` is plain negation: ``not metrics.acc > 0.9`` also matches runs that never
    logged ``acc``.
    """
    if node is None:
        return Q()
    if isinstance(node, And):
        q = Q()
        for child in node.children:
            q &= compile_filter(child)
        return q
    if isinstance(node, Or):
        q = compile_filter(node.children[0])
        for child in node.children[1:]:
            q |= compile_filter(child)
        return q
    if isinstance(node, Not):
        return ~compile_filter(node.child)
    return _comparison(node)


def duration_expression() -> Expression:
    """Seconds between start and end as an interval; NULL while a run has not ended."""
    return ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())


def _comparison(node: Comparison) -> Q:
    field = node.field
    if field.entity in _KEYED_MODELS:
        inner = _KEYED_MODELS[field.entity].objects.filter(run=OuterRef("pk"), key=field.key)
        value_column = "last" if field.entity == "metric" else "value"
        condition = (
            _param_condition(node)
            if field.entity == "param"
            else _condition(F(value_column), node.op, node.operands, field.type)
        )
        return Q(Exists(inner.filter(condition)))
    if field.entity == "dataset":
        datasets = DatasetVersion.objects.filter(run=OuterRef("pk"))
        condition = _condition(F(field.key), node.op, node.operands, ValueType.TEXT)
        return Q(Exists(datasets.filter(condition)))
    attribute = field.attribute
    if attribute.name == "author":
        # A subquery, not a join: a join would need promoting to LEFT OUTER under OR
        # and NOT, or runs without an author would silently drop out of the result.
        condition = _condition(F("username"), node.op, node.operands, field.type)
        users = get_user_model().objects.filter(pk=OuterRef("author_id"))
        return Q(Exists(users.filter(condition)))
    column = duration_expression() if attribute.column is None else F(attribute.column)
    # The explicit IS NOT NULL keeps the test two-valued, so NOT of it is its exact
    # complement: `not duration > 600` includes runs that have not ended.
    return Q(L.IsNull(column, False)) & _condition(column, node.op, node.operands, field.type)


def _condition(expr: Combinable, op: str, operands: tuple[object, ...], vt: ValueType) -> Q:
    """``expr op operands`` where a NULL ``expr`` (a missing value, a NaN metric, an
    unfinished run's end) never matches, not even ``!=`` or ``NOT IN``."""
    present = Q(L.IsNull(expr, False))
    if op in LIKE_OPS:
        (pattern,) = operands
        lookup = ILike if "ilike" in op else Like
        match = Q(lookup(expr, str(pattern)))
        return present & ~match if op.startswith("not") else match
    if op in ("in", "not in"):
        match = Q(L.In(expr, list(operands)))
        return present & ~match if op == "not in" else match
    (value,) = operands
    if op == "=":
        return Q(L.Exact(expr, value))
    if op == "!=":
        return present & ~Q(L.Exact(expr, value))
    if vt in (ValueType.TEXT, ValueType.STATUS):
        # Text order is code-point order on every backend.
        expr = BinaryCollate(expr)
    return Q(_ORDERING_LOOKUPS[op](expr, value))


def _param_condition(node: Comparison) -> Q:
    """Numbers compare as numbers when both sides parse as numbers, else as text.

    A row whose value parsed (``value_num`` set) is compared numerically with a
    numeric literal; a row whose value did not is compared as text with the literal's
    text. A non-numeric literal compares as text with every row.
    """
    op = node.op
    if op in LIKE_OPS:
        return _condition(F("value"), op, node.operands, ValueType.TEXT)
    operands = [o for o in node.operands if isinstance(o, ParamOperand)]
    if op in ("in", "not in"):
        match = _param_in(operands)
        return ~match if op == "not in" else match
    return _param_match(operands[0], op)


def _param_in(operands: list[ParamOperand]) -> Q:
    """The OR of ``_param_match(operand, "=")`` over the operands, as at most three
    SQL ``IN``s rather than one OR per value (a thousand nested ORs are deeper than
    SQLite parses): numeric rows against the numbers, text rows against the numeric
    literals' text, and every row against the literals that are not numbers."""
    numbers = [o.number for o in operands if o.number is not None]
    number_texts = [o.text for o in operands if o.number is not None]
    texts = [o.text for o in operands if o.number is None]
    parts: list[Q] = []
    if numbers:
        numeric = Q(value_num__isnull=False) & _condition(
            F("value_num"), "in", tuple(numbers), ValueType.NUMBER
        )
        textual = Q(value_num__isnull=True) & _condition(
            F("value"), "in", tuple(number_texts), ValueType.TEXT
        )
        parts += [numeric, textual]
    if texts:
        parts.append(_condition(F("value"), "in", tuple(texts), ValueType.TEXT))
    match = parts[0]
    for part in parts[1:]:
        match |= part
    return match


def _param_match(operand: ParamOperand, op: str) -> Q:
    as_text = _condition(F("value"), op, (operand.text,), ValueType.TEXT)
    if operand.number is None:
        return as_text
    as_number = _condition(F("value_num"), op, (operand.number,), ValueType.NUMBER)
    numeric = Q(value_num__isnull=False) & as_number
    textual = Q(value_num__isnull=True) & as_text
    return numeric | textual
