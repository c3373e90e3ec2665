"""Reads of runs and their metrics, always scoped to what the principal may read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import Count, F, FloatField, Func, Max, Min, Q, QuerySet, Value, Window
from django.db.models.functions import Cast, Floor, Least, RowNumber

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.core.errors import not_found
from apps.projects.access import require_role, role_for
from apps.projects.models import Project, Role
from apps.runs.columns import SUMMARY_FIELDS
from apps.runs.models import (
    DatasetVersion,
    MetricPoint,
    MetricSummary,
    Param,
    Run,
    SummaryValue,
    Tag,
)

MAX_HISTORY_PAGE = 10_000
# A downsampled answer keeps the first and the last point and two per bucket: 4 is the
# fewest that holds one bucket. The history's parameters are checked against these
# once, where they are parsed (apps.runs.history).
MIN_DOWNSAMPLED_POINTS = 4
MAX_DOWNSAMPLED_POINTS = 10_000
# The kinds of key a run holds, by the name the runs table's columns use.
KEY_MODELS: dict[str, type[Param] | type[MetricSummary] | type[Tag]] = {
    "params": Param,
    "metrics": MetricSummary,
    "tags": Tag,
}
# What the compare page and a saved comparison read of each run.
_COMPARED_FIELDS = ("pk", "public_id", "name", "status", "project_id")


def run_get_for_principal(
    *,
    principal: Principal,
    run_id: str,
    needed: Role = Role.VIEWER,
    include_deleted: bool = False,
    related: tuple[str, ...] = ("project", "author", "parent"),
) -> Run:
    """The run, or NotFound when it does not exist, is deleted (unless
    ``include_deleted``), or its project is not readable; Forbidden when readable
    but the principal's role is below ``needed``. ``related`` names the relations
    loaded with it (the project always is)."""
    runs = Run.objects.select_related(*related)
    run = runs.filter(public_id=run_id, project__deleted_at__isnull=True).first()
    if run is None or (run.deleted_at is not None and not include_deleted):
        raise not_found("run")
    if run.deleted_at is not None:
        # Only admins learn that a deleted run exists (to restore it).
        role = role_for(principal, run.project)
        if role is None or role < Role.ADMIN:
            raise not_found("run")
    require_role(principal, run.project, needed, what="run")
    return run


def run_list_for_project(*, project: Project) -> QuerySet[Run]:
    """The project's live runs, shaped for listings: no joins (the planner orders
    every search condition's subquery, and each join adds to that), and the heavy
    fields (diff, environment) left unread. The caller has checked that the principal
    may read the project, which is therefore alive."""
    return Run.objects.filter(project=project, deleted_at__isnull=True).defer(
        "git_diff", "environment"
    )


def run_counts_by_project(*, projects: Iterable[Project]) -> dict[int, int]:
    """Each project's number of live runs, by project id, in one query (a project
    without runs is left out). The caller has checked that the principal may read
    every one of ``projects``."""
    return dict(
        Run.objects.filter(project__in=projects, deleted_at__isnull=True)
        .values_list("project")
        .annotate(n=Count("pk"))
    )


def runs_in_project(*, project: Project, public_ids: Iterable[str]) -> dict[str, Run]:
    """The project's live runs among ``public_ids``, by public id, with only what the
    compare page shows of them (id, name, status); an id that is missing, deleted or
    of another project is left out. The caller has checked that the principal may
    read the project."""
    runs = (
        run_list_for_project(project=project)
        .filter(public_id__in=list(public_ids))
        .only(*_COMPARED_FIELDS)
    )
    return {run.public_id: run for run in runs}


def run_live_in_project(*, project_id: int, run_pk: int) -> Run | None:
    """The run with this database id when it is still a live run of the project (a
    deleted run's page is a 404 to members), with only its public id and name; None
    otherwise. For links to a run that another record names (a CI report's
    baseline); the caller has checked that the principal may read the project."""
    return (
        Run.objects.filter(pk=run_pk, project_id=project_id, deleted_at__isnull=True)
        .only("public_id", "name")
        .first()
    )


def runs_attach_listing(*, runs: list[Run], project: Project) -> None:
    """Give a page of listed runs what run_out reads: the project, the author's
    username and the parent's id, in two small queries for the whole page."""
    author_ids = {run.author_id for run in runs if run.author_id}
    parent_ids = {run.parent_id for run in runs if run.parent_id}
    usernames = dict(User.objects.filter(pk__in=author_ids).values_list("pk", "username"))
    parents = dict(Run.objects.filter(pk__in=parent_ids).values_list("pk", "public_id"))
    for run in runs:
        run.project = project
        run.author_username = usernames.get(run.author_id) if run.author_id is not None else None
        run.parent_public_id = parents.get(run.parent_id) if run.parent_id is not None else None


def run_metric_summaries(*, run: Run) -> QuerySet[MetricSummary]:
    return MetricSummary.objects.filter(run=run).order_by("key")


class RunDetail:
    """What one run holds besides its row, as the API's run detail and the run page
    show it. Each part is read on first use (one query each, whatever its size), so a
    caller pays only for the parts it shows."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @cached_property
    def params(self) -> dict[str, str]:
        """Key to value, in key order."""
        return dict(self.run.params.order_by("key").values_list("key", "value"))

    @cached_property
    def tags(self) -> dict[str, str]:
        """Key to value, in key order."""
        return dict(self.run.tags.order_by("key").values_list("key", "value"))

    @cached_property
    def metrics(self) -> list[dict[str, Any]]:
        """Each metric's summary as a dict of ``SUMMARY_FIELDS`` (stored values: a
        NaN ``last`` is None), in key order."""
        return list(run_metric_summaries(run=self.run).values(*SUMMARY_FIELDS))

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The summary values (any JSON), key to value, in key order."""
        rows = SummaryValue.objects.filter(run=self.run).order_by("key")
        return dict(rows.values_list("key", "value"))

    @cached_property
    def datasets(self) -> list[DatasetVersion]:
        """The dataset versions, in name order."""
        return list(DatasetVersion.objects.filter(run=self.run).order_by("name"))


def run_detail(*, run: Run) -> RunDetail:
    """The params, tags, metric summaries, summary values and datasets of ``run``,
    each read when first used. The caller has checked that the principal may read
    the run (run_get_for_principal, or a share link's own rules)."""
    return RunDetail(run)


def run_keys_in_project(*, project: Project, kind: str, contains: str, limit: int) -> list[str]:
    """The distinct keys of one kind (``params``, ``metrics`` or ``tags``: KEY_MODELS)
    that the project's live runs hold, containing ``contains`` (any case; all keys
    when empty), in key order, at most ``limit``. The caller has checked that the
    principal may read the project."""
    keys = KEY_MODELS[kind].objects.filter(run__project=project, run__deleted_at__isnull=True)
    if contains:
        keys = keys.filter(key__icontains=contains)
    return list(keys.order_by("key").values_list("key", flat=True).distinct()[:limit])


def run_param_rows(*, runs: Iterable[Run]) -> QuerySet[Param, tuple[int, str, str, float | None]]:
    """Every param of ``runs`` as ``(run id, key, value, value as a number or None)``
    rows, in one query, in no particular order."""
    return Param.objects.filter(run_id__in=[run.pk for run in runs]).values_list(
        "run_id", "key", "value", "value_num"
    )


def run_metric_last_rows(
    *, runs: Iterable[Run]
) -> QuerySet[MetricSummary, tuple[int, str, float | None]]:
    """Every metric of ``runs`` as ``(run id, key, last value)`` rows (a NaN last value
    is None), in one query, in no particular order."""
    return MetricSummary.objects.filter(run_id__in=[run.pk for run in runs]).values_list(
        "run_id", "key", "last"
    )


@dataclass
class History:
    points: list[dict[str, Any]]
    next_after_step: int | None
    downsampled: bool
    total: int


def _point(row: MetricPoint | dict[str, Any]) -> dict[str, Any]:
    if isinstance(row, dict):
        return {"step": row["step"], "value": row["value"], "timestamp": row["timestamp"]}
    return {"step": row.step, "value": row.value, "timestamp": row.timestamp}


def run_metric_history(
    *,
    run: Run,
    key: str,
    max_points: int | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
    after_step: int | None = None,
    page_size: int = 1000,
) -> History:
    """One metric's points in step order.

    Without ``max_points``: the full series between the bounds, one page at a time
    (``next_after_step`` continues it). With ``max_points``: at most that many points
    covering the whole range, keeping the first and the last point and each bucket's
    lowest and highest value (spikes never vanish; the series' minimum and maximum
    are always there). Any steps of the signed 64-bit range work, extremes included.

    The caller has checked the parameters (apps.runs.history): ``max_points`` between
    MIN_DOWNSAMPLED_POINTS and MAX_DOWNSAMPLED_POINTS, ``page_size`` between 1 and
    MAX_HISTORY_PAGE.
    """
    points = MetricPoint.objects.filter(run=run, key=key)
    if min_step is not None:
        points = points.filter(step__gte=min_step)
    if max_step is not None:
        points = points.filter(step__lte=max_step)
    if after_step is not None:
        points = points.filter(step__gt=after_step)
    fields = ("step", "value", "timestamp")
    if max_points is None:
        rows = list(points.order_by("step").values(*fields)[: page_size + 1])
        more = len(rows) > page_size
        rows = rows[:page_size]
        return History(
            points=[_point(r) for r in rows],
            next_after_step=rows[-1]["step"] if more else None,
            downsampled=False,
            total=len(rows),
        )
    # A live run gains points between these statements: each reads only what the one
    # before it saw (up to the highest step counted), or the answer could hold more
    # than max_points and disagree with its total.
    rows = list(points.order_by("step").values(*fields)[: max_points + 1])
    if len(rows) <= max_points:
        return History([_point(r) for r in rows], None, False, len(rows))
    bounds = points.aggregate(lo=Min("step"), hi=Max("step"), total=Count("step"))
    lo, hi, total = bounds["lo"], bounds["hi"], bounds["total"]
    # Points that arrive meanwhile, outside the range read, stay out of the buckets.
    points = points.filter(step__gte=lo, step__lte=hi)
    # Each bucket keeps two points, and the first and last points are kept besides.
    buckets = (max_points - 2) // 2
    bucket = _bucket_of_step(lo=lo, hi=hi, buckets=buckets)
    ranked = points.annotate(
        bucket=bucket,
        low_rank=Window(
            RowNumber(),
            partition_by=[bucket],
            order_by=[F("value").asc(nulls_last=True), F("step").asc()],
        ),
        high_rank=Window(
            RowNumber(),
            partition_by=[bucket],
            order_by=[F("value").desc(nulls_last=True), F("step").asc()],
        ),
    ).filter(Q(low_rank=1) | Q(high_rank=1))
    kept = {r["step"]: r for r in ranked.values(*fields)}
    for end in (points.order_by("step"), points.order_by("-step")):
        row = end.values(*fields).first()
        if row is not None:
            kept[row["step"]] = row
    rows = [kept[step] for step in sorted(kept)]
    return History([_point(r) for r in rows], None, True, total)


def _bucket_of_step(*, lo: int, hi: int, buckets: int) -> Func:
    """The bucket (0 to ``buckets - 1``) of a step in ``[lo, hi]``: equal slices of
    the range, in float8. Steps are 64-bit, so ``hi - lo`` reaches 2**64 and no
    integer type of either database holds it; a double holds any span, and rounding
    only moves a bucket's edge by a few parts in 2**52 of the span, never out of
    order (each bucket is still one contiguous run of steps)."""
    scale = buckets / (hi - lo + 1)  # exact integers, one rounding
    offset = Cast(F("step"), FloatField()) - Value(float(lo), output_field=FloatField())
    # The last step can round up onto the end of the range: it belongs to the last.
    return Least(
        Floor(offset * Value(scale, output_field=FloatField())),
        Value(float(buckets - 1), output_field=FloatField()),
    )
