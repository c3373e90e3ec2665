"""How runs look on the wire."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from apps.runs.columns import SUMMARY_FIELDS, metric_summary_out
from apps.runs.models import Run


def run_url(run: Run) -> str:
    """The run's page in the portal."""
    return f"{settings.KIROKU_BASE_URL}/projects/{run.project.slug}/runs/{run.public_id}"


def _author(run: Run) -> str | None:
    # Listings annotate the username instead of loading the user.
    if hasattr(run, "author_username"):
        return run.author_username
    return run.author.username if run.author_id else None


def _parent_id(run: Run) -> str | None:
    if hasattr(run, "parent_public_id"):
        return run.parent_public_id
    return run.parent.public_id if run.parent_id else None


def _duration(run: Run) -> float | None:
    if run.ended_at is None:
        return None
    return (run.ended_at - run.started_at).total_seconds()


def run_out(
    run: Run,
    *,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    metrics: Mapping[str, dict] | None = None,
    truncated: Mapping[str, bool] | None = None,
    detail: bool = False,
) -> dict:
    """The run as JSON. ``params``/``tags``/``metrics`` default to all of the run's;
    search passes the chosen columns, and ``truncated`` (which of those kinds hold
    more than the listing carries). ``detail`` adds the environment, the diff, the
    summary and the datasets (listings leave them out to stay small)."""
    if params is None:
        params = dict(run.params.order_by("key").values_list("key", "value"))
    if tags is None:
        tags = dict(run.tags.order_by("key").values_list("key", "value"))
    if metrics is None:
        metrics = {
            row["key"]: metric_summary_out(row)
            for row in run.metric_summaries.order_by("key").values(*SUMMARY_FIELDS)
        }
    body = {
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
        body["summary"] = {s.key: s.value for s in run.summary_values.all()}
        body["datasets"] = [
            {
                "name": d.name,
                "uri": d.uri,
                "digest": d.digest,
                "size": d.size,
                "file_count": d.file_count,
                "source": d.source,
            }
            for d in run.datasets.order_by("name")
        ]
    return body
