"""Building the ``Report`` of a delivery: the run, its key metrics against the
baseline, the params that changed, and links — read fresh at send time."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from apps.accounts.models import User
from apps.notifications import catalog
from apps.notifications.models import Delivery
from apps.notifications.report import (
    Mention,
    MetricLine,
    ParamChange,
    Report,
    RunRef,
    format_number,
)
from apps.projects.models import Project
from apps.runs.baseline import baseline_for, baseline_label
from apps.runs.models import MetricSummary, Run

# Without a rule's or project's choice, the message shows this many metrics.
DEFAULT_METRIC_COUNT = 5
DETAIL_MAX = 1000

# Which way is better, guessed from the metric's name when no setting says so.
_LOWER_IS_BETTER = ("loss", "error", "err", "mae", "mse", "rmse", "perplexity", "ppl", "wer", "cer")
_HIGHER_IS_BETTER = (
    "acc",
    "f1",
    "auc",
    "precision",
    "recall",
    "bleu",
    "rouge",
    "map",
    "iou",
    "score",
)


def absolute(path: str) -> str:
    return settings.KIROKU_BASE_URL + path


def run_ref(run: Run) -> RunRef:
    path = reverse("portal:run", kwargs={"slug": run.project.slug, "run_id": run.public_id})
    return RunRef(public_id=run.public_id, name=run.name or run.public_id, url=absolute(path))


def metric_goal(key: str, known: dict[str, str]) -> str | None:
    if key in known:
        return known[key]
    lowered = key.lower().replace("/", "_").replace("-", "_").replace(".", "_")
    words = lowered.split("_")
    if any(word in _LOWER_IS_BETTER for word in words) or "loss" in lowered:
        return "min"
    if any(word in _HIGHER_IS_BETTER for word in words) or "accuracy" in lowered:
        return "max"
    return None


def report_for(delivery: Delivery) -> Report:
    project: Project = delivery.project
    rule = delivery.rule
    condition = rule.condition if rule is not None else {}
    run = (
        Run.objects.select_related("project", "author").filter(pk=delivery.run_id).first()
        if delivery.run_id
        else None
    )
    common = {
        "delivery_id": delivery.pk,
        "key": delivery.idempotency_key,
        "event": delivery.event_type,
        "title": _title(delivery),
        "project_slug": project.slug,
        "project_name": project.name,
        "project_url": absolute(reverse("portal:runs", kwargs={"slug": project.slug})),
        "created_at": delivery.created_at,
        **_detail(delivery),
    }
    if run is None:
        return Report(run=None, **common)
    goals = _known_goals(project, condition)
    baseline = baseline_for(run=run)
    keys = _metric_keys(run, project, condition)
    values = _last_values(run, keys)
    base_values = _last_values(baseline, keys) if baseline else {}
    metrics = tuple(
        MetricLine(
            key=key,
            value=values.get(key),
            baseline=base_values.get(key),
            goal=metric_goal(key, goals),
        )
        for key in keys
    )
    params = dict(run.params.order_by("key").values_list("key", "value"))
    changes: tuple[ParamChange, ...] = ()
    compare_url = ""
    if baseline is not None:
        base_params = dict(baseline.params.values_list("key", "value"))
        changes = tuple(
            ParamChange(key=key, value=params.get(key, ""), baseline=base_params.get(key))
            for key in sorted(set(params) | set(base_params))
            if params.get(key) != base_params.get(key)
        )
        query = urlencode([("runs", baseline.public_id), ("runs", run.public_id)])
        compare_url = (
            absolute(reverse("portal:compare", kwargs={"slug": project.slug})) + "?" + query
        )
    return Report(
        run=run_ref(run),
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        author=run.author.username if run.author else "",
        branch=run.git_branch,
        commit=run.git_commit[:8],
        tags=tuple(run.tags.order_by("key").values_list("key", "value")),
        metrics=metrics,
        baseline=run_ref(baseline) if baseline else None,
        baseline_label=baseline_label(project.baseline) if baseline else "",
        param_changes=changes,
        params=tuple(params.items()),
        compare_url=compare_url,
        **common,
    )


def _known_goals(project: Project, condition: dict) -> dict[str, str]:
    goals = {}
    if project.baseline.get("mode") == "best":
        goals[project.baseline["metric"]] = project.baseline["goal"]
    if "goal" in condition and "metric" in condition:
        goals[condition["metric"]] = condition["goal"]
    return goals


def _metric_keys(run: Run, project: Project, condition: dict) -> list[str]:
    """The rule's metrics, else the project's primary metrics, else the baseline's
    metric and the first few the run logged."""
    if condition.get("metric"):
        return [
            condition["metric"],
            *[k for k in project.primary_metrics if k != condition["metric"]],
        ]
    if condition.get("metrics"):
        return list(condition["metrics"])
    if project.primary_metrics:
        return list(project.primary_metrics)
    keys = []
    if project.baseline.get("mode") == "best":
        keys.append(project.baseline["metric"])
    logged = MetricSummary.objects.filter(run=run).order_by("key").values_list("key", flat=True)
    for key in logged[: DEFAULT_METRIC_COUNT + 1]:
        if key not in keys:
            keys.append(key)
    return keys[:DEFAULT_METRIC_COUNT]


def _last_values(run: Run, keys: list[str]) -> dict[str, float | None]:
    return dict(MetricSummary.objects.filter(run=run, key__in=keys).values_list("key", "last"))


def _title(delivery: Delivery) -> str:
    payload = delivery.payload
    event = delivery.event_type
    if event == catalog.METRIC_THRESHOLD:
        return (
            f"{payload.get('metric')} {payload.get('op')} {format_number(payload.get('threshold'))}"
            f" (now {format_number(payload.get('value'))})"
        )
    if event == catalog.RUN_NEW_BEST:
        return f"New best {payload.get('metric')}: {format_number(payload.get('value'))}"
    if event == catalog.COMMENT_MENTION:
        return f"{payload.get('author', 'someone')} mentioned you in a comment"
    return catalog.EVENT_TITLES.get(event, event)


def _detail(delivery: Delivery) -> dict:
    payload = delivery.payload
    detail = str(payload.get("excerpt") or payload.get("summary") or "")[:DETAIL_MAX]
    mentions = ()
    if delivery.event_type == catalog.COMMENT_MENTION:
        users = User.objects.filter(username__in=payload.get("mentioned", [])).order_by("username")
        mentions = tuple(Mention(username=u.username, email=u.email) for u in users)
    detail_url = ""
    if payload.get("comment_id") and payload.get("run_id"):
        path = reverse(
            "portal:run", kwargs={"slug": delivery.project.slug, "run_id": payload["run_id"]}
        )
        detail_url = absolute(f"{path}#comment-{int(payload['comment_id'])}")
    return {"detail": detail, "detail_url": detail_url, "mentions": mentions}
