"""How runs look on the wire: run_out returns a TypedDict, which the OpenAPI schema
documents (apps.core.schema), and the other answers of the runs API are described here
next to it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict

from apps.core.schema import Page, WireFloat
from apps.runs.columns import MetricSummaryOut, metric_summary_out
from apps.runs.keys import KeyHintOut
from apps.runs.links import run_url
from apps.runs.models import Run, RunStatus
from apps.runs.selectors import run_detail


class RunGitOut(TypedDict):
    commit: str
    branch: str
    remote: str
    dirty: Annotated[bool | None, "uncommitted changes; null when unknown"]
    diff_truncated: bool
    diff: NotRequired[Annotated[str, "the uncommitted changes; not in listings"]]


class DatasetOut(TypedDict):
    name: str
    uri: str
    digest: str
    size: Annotated[int | None, "bytes"]
    file_count: int | None
    source: Annotated[str, "where the digest comes from (`local`, `dvc`…)"]


class RunOut(TypedDict):
    """A run. A listing leaves out what only one run's answer carries (environment,
    diff, summary, datasets) and caps each of params, metrics and tags."""

    id: str
    url: Annotated[str, "the run's page in the portal"]
    project: Annotated[str, "the project's slug"]
    name: str
    group: str
    parent_id: str | None
    client_id: Annotated[str | None, "the client's idempotency key"]
    status: Annotated[str, RunStatus]
    author: Annotated[str | None, "the username; null once the user is gone"]
    created_at: datetime
    started_at: datetime
    ended_at: datetime | None
    heartbeat_at: datetime
    duration: Annotated[float | None, "seconds from start to end; null until it ends"]
    notes: str
    git: RunGitOut
    ci: Annotated[dict[str, Any], "the CI context the client recorded"]
    params: dict[str, str]
    tags: dict[str, str]
    metrics: Annotated[dict[str, MetricSummaryOut], "by key"]
    deleted_at: Annotated[datetime | None, "set while the run is deleted (restorable)"]
    truncated: NotRequired[
        Annotated[
            dict[str, bool],
            "listings only: per kind (`params`, `metrics`, `tags`), whether the run holds "
            "more keys than the listing carries (ask for them with `columns`)",
        ]
    ]
    environment: NotRequired[
        Annotated[dict[str, Any], "one run's answer only: what the client recorded"]
    ]
    summary: NotRequired[Annotated[dict[str, Any], "one run's answer only: values by key"]]
    datasets: NotRequired[Annotated[list[DatasetOut], "one run's answer only"]]


class RunSearchOut(Page[RunOut]):
    """One page of the runs that the filter matches, in the order asked for."""

    hints: NotRequired[
        Annotated[
            list[KeyHintOut],
            "only when a filter matched nothing on its first page: the keys it names "
            "that no run of the project has",
        ]
    ]


class HeartbeatOut(TypedDict):
    id: str
    status: Annotated[str, RunStatus]
    heartbeat_at: datetime


class LogStoredOut(TypedDict):
    """What a batch wrote."""

    metrics: Annotated[int, "new points"]
    metrics_replaced: Annotated[int, "points whose value changed"]
    metrics_unchanged: Annotated[int, "points stored already with the same value"]
    params: Annotated[int, "new params"]
    tags: Annotated[int, "tags set or changed"]
    summary: int
    datasets: int


class LogBatchOut(TypedDict):
    """What a batch stored (apps.runs.ingest); a repeated ``batch_id`` gets the first
    answer back."""

    run_id: str
    batch_id: str
    status: Annotated[str, RunStatus]
    stored: LogStoredOut


class MetricPointOut(TypedDict):
    step: int
    value: WireFloat
    timestamp: datetime


class MetricHistoryOut(TypedDict):
    """One metric's points in step order (apps.runs.history), a page at a time or
    downsampled."""

    key: str
    downsampled: bool
    total: Annotated[int, "points in this page; when downsampled, points in the whole step range"]
    results: list[MetricPointOut]
    next: Annotated[
        str | None,
        "the path and query of the next page (its `after_step`); null on the last page",
    ]


def _author(run: Run) -> str | None:
    # Listings annotate the username instead of loading the user.
    if hasattr(run, "author_username"):
        return run.author_username
    # A null author_id answers None without a query.
    author = run.author
    return author.username if author is not None else None


def _parent_id(run: Run) -> str | None:
    if hasattr(run, "parent_public_id"):
        return run.parent_public_id
    parent = run.parent
    return parent.public_id if parent is not None else None


def _duration(run: Run) -> float | None:
    if run.ended_at is None:
        return None
    return (run.ended_at - run.started_at).total_seconds()


def run_out(
    run: Run,
    *,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    metrics: Mapping[str, MetricSummaryOut] | None = None,
    truncated: Mapping[str, bool] | None = None,
    detail: bool = False,
) -> RunOut:
    """The run as JSON. ``params``/``tags``/``metrics`` default to all of the run's;
    search passes the chosen columns, and ``truncated`` (which of those kinds hold
    more than the listing carries). ``detail`` adds the environment, the diff, the
    summary and the datasets (listings leave them out to stay small)."""
    # The same reads as the run page's (only the parts used are read).
    held = run_detail(run=run)
    if params is None:
        params = held.params
    if tags is None:
        tags = held.tags
    if metrics is None:
        metrics = {row["key"]: metric_summary_out(row) for row in held.metrics}
    body: RunOut = {
        "id": run.public_id,
        "url": run_url(run),
        "project": run.project.slug,
        "name": run.name,
        "group": run.group,
        "parent_id": _parent_id(run),
        "client_id": run.client_id,
        "status": run.status,
        "author": _author(run),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "heartbeat_at": run.heartbeat_at,
        "duration": _duration(run),
        "notes": run.notes,
        "git": {
            "commit": run.git_commit,
            "branch": run.git_branch,
            "remote": run.git_remote,
            "dirty": run.git_dirty,
            "diff_truncated": run.git_diff_truncated,
        },
        "ci": run.ci,
        "params": dict(params),
        "tags": dict(tags),
        "metrics": dict(metrics),
        "deleted_at": run.deleted_at,
    }
    if truncated is not None:
        body["truncated"] = dict(truncated)
    if detail:
        body["environment"] = run.environment
        body["git"]["diff"] = run.git_diff
        body["summary"] = held.summary
        body["datasets"] = [
            {
                "name": d.name,
                "uri": d.uri,
                "digest": d.digest,
                "size": d.size,
                "file_count": d.file_count,
                "source": d.source,
            }
            for d in held.datasets
        ]
    return body
