"""Which keys a project's runs hold, read in bounded queries: the runs table's default
columns, and the hints for a filter that names a key no run has.

A project may hold tens of thousands of runs and thousands of distinct keys, so nothing
here reads the whole project. The default columns come from a *sample* of the result
set: its newest ``SAMPLE_RUNS`` runs (by id, whatever the table's sort or page, so the
columns stay put while a reader sorts and pages), and of those runs' keys at most
``SAMPLE_ROWS`` rows per kind (which rows, on a project that logs more keys per run than
that allows, is the database's choice: in practice whole runs, in index order). The
hints' closest keys come from the keys of the project's newest ``HINT_RUNS`` runs, read
the same way, at most ``HINT_CANDIDATES`` of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from django.db import connection
from django.db.models import QuerySet

from apps.projects.models import Project
from apps.runs.columns import Columns
from apps.runs.models import MetricSummary, Param, Run, Tag
from apps.runs.search.fields import Field, ValueType
from apps.runs.search.lexer import Lexer
from apps.runs.search.parser import And, Comparison, Node, Not, Or

SAMPLE_RUNS = 200
SAMPLE_ROWS = 20_000
# How many ranked keys of each kind the sample answers with: enough to fill the default
# columns after the primary metrics (at most 10) have taken their places.
RANKED_KEYS = 20
DEFAULT_METRICS = 8
DEFAULT_PARAMS = 6

HINT_RUNS = 1_000
HINT_ROWS = 50_000
HINT_CANDIDATES = 5_000
MAX_HINTS = 5
CLOSEST = 3

_MODELS: dict[str, type[MetricSummary] | type[Param] | type[Tag]] = {
    "metric": MetricSummary,
    "param": Param,
    "tag": Tag,
}
_TYPES = {"metric": ValueType.NUMBER, "param": ValueType.PARAM, "tag": ValueType.TEXT}


@dataclass(frozen=True)
class KeyCount:
    """One key of the sample: how many sampled runs have it and, for params, how many
    distinct values they hold."""

    key: str
    runs: int
    values: int = 0


@dataclass(frozen=True)
class ResultSetKeys:
    """The keys of a result set's sample. ``metrics`` and ``params`` hold the
    RANKED_KEYS best-ranked keys (metrics: most runs first; params: those that vary
    first, then most runs), plus any key asked for by ``include`` that the sample has;
    ``metric_keys`` / ``param_keys`` count the sample's distinct keys."""

    runs: int = 0
    metrics: list[KeyCount] = field(default_factory=list)
    params: list[KeyCount] = field(default_factory=list)
    metric_keys: int = 0
    param_keys: int = 0

    def varies(self, param: KeyCount) -> bool:
        """A param varies when the sampled runs hold two values of it, or when some of
        them lack it."""
        return param.values > 1 or param.runs < self.runs

    def hidden(self, columns: Columns) -> int:
        """How many of the sample's metric and param keys ``columns`` does not show."""
        shown_metrics = {k.key for k in self.metrics} & set(columns.metrics)
        shown_params = {k.key for k in self.params} & set(columns.params)
        return (self.metric_keys - len(shown_metrics)) + (self.param_keys - len(shown_params))


def result_set_keys(*, runs: QuerySet[Run], include: Columns | None = None) -> ResultSetKeys:
    """The keys of the newest SAMPLE_RUNS runs of ``runs`` (already permission-scoped
    and filtered), ranked for the default columns. Keys named in ``include`` are
    reported too when the sample has them, so that ``hidden`` can count exactly.

    Three queries: the sampled ids, then one aggregate per kind (at most SAMPLE_ROWS
    rows read, RANKED_KEYS plus ``include`` rows answered). The caller runs it under
    the search timeout when ``runs`` carries a filter.
    """
    ids = list(runs.order_by("-pk").values_list("pk", flat=True)[:SAMPLE_RUNS])
    if not ids:
        return ResultSetKeys()
    include = include or Columns()
    metrics, metric_keys = _ranked(MetricSummary, ids, include.metrics, sampled=len(ids))
    params, param_keys = _ranked(Param, ids, include.params, sampled=len(ids))
    return ResultSetKeys(len(ids), metrics, params, metric_keys, param_keys)


def _ranked(
    model: type[MetricSummary] | type[Param], ids: list[int], include: list[str], *, sampled: int
) -> tuple[list[KeyCount], int]:
    with_values = model is Param
    fields = ("key", "value") if with_values else ("key",)
    rows_sql, rows_params = (
        model.objects.filter(run_id__in=ids)
        .values_list(*fields)[:SAMPLE_ROWS]
        .query.sql_with_params()
    )
    values = 'COUNT(DISTINCT "value")' if with_values else "0"
    # Params that vary come first (two values, or not every sampled run has them).
    order = (
        'CASE WHEN v > 1 OR n < %s THEN 0 ELSE 1 END, n DESC, "key"'
        if with_values
        else 'n DESC, "key"'
    )
    order_params = [sampled] if with_values else []
    wanted = ' OR "key" IN (' + ", ".join(["%s"] * len(include)) + ")" if include else ""
    sql = (
        'SELECT "key", n, v, total FROM ('  # noqa: S608 (no values in the text)
        f'SELECT "key", n, v, COUNT(*) OVER () AS total, ROW_NUMBER() OVER (ORDER BY {order}) '
        f'AS place FROM (SELECT "key", COUNT(*) AS n, {values} AS v FROM ({rows_sql}) AS r '
        f'GROUP BY "key") AS g) AS ranked WHERE place <= %s{wanted} '
        "ORDER BY place"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*order_params, *rows_params, RANKED_KEYS, *include])
        rows = cursor.fetchall()
    total = rows[0][3] if rows else 0
    return [KeyCount(key, n, v) for key, n, v, _ in rows], total


def columns_default(*, project: Project, keys: ResultSetKeys) -> Columns:
    """The runs table's columns when nobody chose any: the project's primary metrics
    (all of them, in their order), then the metrics most sampled runs have, up to
    DEFAULT_METRICS metric columns; then up to DEFAULT_PARAMS params that vary between
    the sampled runs, most common first (with a single run nothing varies, so its
    first params by key). No tags."""
    metrics = list(project.primary_metrics)
    for count in keys.metrics:
        if len(metrics) >= DEFAULT_METRICS:
            break
        if count.key not in metrics:
            metrics.append(count.key)
    params = [count.key for count in keys.params if keys.runs == 1 or keys.varies(count)][
        :DEFAULT_PARAMS
    ]
    return Columns(params=params, metrics=metrics)


def named_columns(*, filter: Node | None, order: Iterable[Field] = ()) -> Columns:
    """The params, metrics and tags a filter tree and the sort keys name, in the order
    they name them."""
    columns = Columns()
    for named in [*(c.field for c in _comparisons(filter)), *order]:
        kind = _COLUMN_KIND.get(named.entity)
        if kind is not None and named.key not in getattr(columns, kind):
            getattr(columns, kind).append(named.key)
    return columns


def columns_with(base: Columns, extra: Columns) -> Columns:
    """``base`` with the keys of ``extra`` it lacks added at the end of each kind."""
    return Columns(
        **{
            kind: [
                *getattr(base, kind),
                *(k for k in getattr(extra, kind) if k not in getattr(base, kind)),
            ]
            for kind in ("params", "metrics", "tags")
        }
    )


_COLUMN_KIND = {"metric": "metrics", "param": "params", "tag": "tags"}


def _comparisons(node: Node | None) -> Iterator[Comparison]:
    if node is None:
        return
    if isinstance(node, Comparison):
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _comparisons(child)
    elif isinstance(node, Not):
        yield from _comparisons(node.child)


class KeyHintOut(TypedDict):
    """A key the filter names that no run of the project has, on the wire."""

    code: Annotated[str, "`unknown_key`"]
    field: Annotated[str, "`filter`"]
    message: str
    kind: Annotated[str, "`metric`, `param` or `tag`"]
    key: str
    column: Annotated[int, "where the filter names it, 1-based"]
    closest: Annotated[list[str], "existing keys in the search language, nearest first"]


@dataclass(frozen=True)
class KeyHint:
    """A key the filter names that no live run of the project has. ``column`` is where
    the filter names it (1-based); ``closest`` holds at most CLOSEST existing keys in
    the search language (``metrics.eval/acc``), nearest first; the same key of another
    kind (a param where a metric was written) comes first."""

    entity: str  # "metric" | "param" | "tag"
    key: str
    column: int
    closest: list[str]

    @property
    def message(self) -> str:
        return f"no run in this project has {self.entity} `{self.key}`"

    def as_dict(self) -> KeyHintOut:
        return {
            "code": "unknown_key",
            "field": "filter",
            "message": self.message,
            "kind": self.entity,
            "key": self.key,
            "column": self.column,
            "closest": self.closest,
        }


def filter_key_replaced(text: str, *, column: int, label: str) -> str:
    """``text`` with the identifier that starts at ``column`` (1-based, as a KeyHint
    gives it) replaced by ``label``: the filter a closest key suggests."""
    lexer = Lexer(text, field="filter")
    lexer.pos = column - 1
    token = lexer.next()
    return text[: token.position] + label + text[token.end :]


def filter_key_hints(*, project: Project, node: Node | None) -> list[KeyHint]:
    """For a filter that matched nothing: the first MAX_HINTS metric, param and tag keys
    it names that no live run of ``project`` has, each with the closest keys its newest
    HINT_RUNS runs hold. One EXISTS query per named key (at most twice MAX_HINTS); the
    closest keys' three bounded queries only when a key is missing."""
    named: dict[tuple[str, str], int] = {}
    for comparison in _comparisons(node):
        entity = comparison.field.entity
        if entity in _MODELS:
            named.setdefault((entity, comparison.field.key), comparison.column)
    missing = [
        (entity, key, column)
        for (entity, key), column in list(named.items())[: MAX_HINTS * 2]
        if not _MODELS[entity]
        .objects.filter(run__project=project, run__deleted_at__isnull=True, key=key)
        .exists()
    ][:MAX_HINTS]
    if not missing:
        return []
    candidates = _project_keys(project)
    return [
        KeyHint(entity, key, column, _closest(entity, key, candidates))
        for entity, key, column in missing
    ]


def _project_keys(project: Project) -> dict[str, list[str]]:
    ids = list(
        Run.objects.filter(project=project, deleted_at__isnull=True)
        .order_by("-pk")
        .values_list("pk", flat=True)[:HINT_RUNS]
    )
    found: dict[str, list[str]] = {entity: [] for entity in _MODELS}
    if not ids:
        return found
    for entity, model in _MODELS.items():
        rows_sql, rows_params = (
            model.objects.filter(run_id__in=ids).values_list("key")[:HINT_ROWS]
        ).query.sql_with_params()
        sql = f'SELECT DISTINCT "key" FROM ({rows_sql}) AS r LIMIT %s'  # noqa: S608 (no values)
        with connection.cursor() as cursor:
            cursor.execute(sql, [*rows_params, HINT_CANDIDATES])
            found[entity] = sorted(key for (key,) in cursor.fetchall())
    return found


def _label(entity: str, key: str) -> str:
    return Field(entity, key, _TYPES[entity]).label


def _closest(entity: str, key: str, candidates: dict[str, list[str]]) -> list[str]:
    closest = [
        _label(other, key) for other in _MODELS if other != entity and key in candidates[other]
    ]
    by_lower: dict[str, str] = {}
    for candidate in candidates[entity]:
        by_lower.setdefault(candidate.lower(), candidate)
    # Compared lower-cased, so eval/Acc finds eval/acc first.
    for match in difflib.get_close_matches(key.lower(), by_lower, n=CLOSEST, cutoff=0.6):
        closest.append(_label(entity, by_lower[match]))
    return closest[:CLOSEST]
