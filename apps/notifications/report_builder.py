"""Building the ``Report`` of a delivery: the run, its key metrics against the
baseline, the params that changed, and links — read fresh at send time."""

from __future__ import annotations

from apps.accounts.models import User
from apps.notifications import catalog
from apps.notifications.models import Delivery
from apps.notifications.report_content import (
    Mention,
    ModelRef,
    ParamChange,
    Report,
    RunRef,
    format_number,
)
from apps.projects.comparison import project_baseline
from apps.projects.models import Project
from apps.runs import links
from apps.runs.baseline import baseline_resolve
from apps.runs.comparison import metric_lines, project_goals
from apps.runs.models import MetricSummary, Run

# Without a rule's or project's choice, the message shows this many metrics.
DEFAULT_METRIC_COUNT = 5
DETAIL_MAX = 1000
CI_TITLES = {
    "passed": "CI passed",
    "regressed": "CI regression",
    "no_baseline": "CI reported (no baseline to compare with)",
}


def run_ref(run: Run) -> RunRef:
    return RunRef(public_id=run.public_id, name=run.name or run.public_id, url=links.run_url(run))


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
        "project_url": links.absolute_url(links.runs_path(project.slug)),
        "created_at": delivery.created_at,
        "model": _model_ref(delivery),
        **_detail(delivery),
    }
    if run is None:
        return Report(run=None, **common)
    goals = _known_goals(project, condition)
    baseline, label = _baseline(delivery, run)
    keys = list(delivery.payload.get("metrics") or _metric_keys(run, project, condition))
    metrics = metric_lines(keys, run=run, baseline=baseline, goals=goals)
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
        compare_url = links.compare_url(run, baseline)
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
        baseline_label=label if baseline else "",
        param_changes=changes,
        params=tuple(params.items()),
        compare_url=compare_url,
        **common,
    )


def _baseline(delivery: Delivery, run: Run) -> tuple[Run | None, str]:
    """The run to compare with and how it was chosen: a CI report names its own
    baseline (the job's ``--baseline``); every other message uses the project's."""
    if delivery.event_type == catalog.CI_REPORTED:
        public_id = delivery.payload.get("baseline_run")
        found = (
            Run.objects.select_related("project")
            .filter(project_id=run.project_id, public_id=public_id, deleted_at__isnull=True)
            .first()
            if public_id
            else None
        )
        return found, str(delivery.payload.get("baseline_label") or "")
    if delivery.event_type in REPLACING_EVENTS:
        return _replaced_run(delivery, run)
    setting = project_baseline(run.project)
    return baseline_resolve(run=run, setting=setting), setting.label if setting else ""


# The model events about an alias: compared with the version the alias points at.
REPLACING_EVENTS = (
    catalog.MODEL_ALIAS_MOVED,
    catalog.MODEL_PROMOTION_REQUESTED,
    catalog.MODEL_PROMOTION_DECIDED,
)


def _replaced_run(delivery: Delivery, run: Run) -> tuple[Run | None, str]:
    """An alias move or promotion compares the version's run with the run of the
    version the alias pointed at before (or points at now, for a promotion)."""
    payload = delivery.payload
    moved = delivery.event_type == catalog.MODEL_ALIAS_MOVED
    public_id = payload.get("previous_run_id" if moved else "current_run_id")
    number = payload.get("previous_version" if moved else "current_version")
    if not public_id or number is None:
        return None, ""
    found = (
        Run.objects.select_related("project")
        .filter(project_id=run.project_id, public_id=public_id, deleted_at__isnull=True)
        .first()
    )
    when = "pointed at before" if moved else "points at now"
    return found, f"v{number}, what @{payload.get('alias', '')} {when}"


def _model_ref(delivery: Delivery) -> ModelRef | None:
    if delivery.event_type not in catalog.MODEL_EVENTS:
        return None
    payload = delivery.payload
    moved = delivery.event_type == catalog.MODEL_ALIAS_MOVED
    replaces = payload.get("previous_version" if moved else "current_version")
    return ModelRef(
        name=str(payload.get("model", "")),
        version=int(payload.get("version") or 0),
        alias=str(payload.get("alias") or ""),
        replaces=int(replaces) if replaces is not None else None,
        actor=str(payload.get("actor") or ""),
        reason=str(payload.get("reason") or "")[:DETAIL_MAX],
        decision=str(payload.get("decision") or ""),
        comment=str(payload.get("comment") or "")[:DETAIL_MAX],
        description=str(payload.get("description") or "")[:DETAIL_MAX],
    )


# (event, decision) -> title; the model name in it is user text, escaped by each kind.
MODEL_TITLES = {
    (catalog.MODEL_VERSION_CREATED, ""): "New version: {model} v{version}",
    (catalog.MODEL_ALIAS_MOVED, ""): "{model}@{alias} → v{version}",
    (catalog.MODEL_PROMOTION_REQUESTED, ""): "Promotion requested: {model} v{version} to @{alias}",
    (catalog.MODEL_PROMOTION_DECIDED, "approved"): "Promotion approved: {model} v{version} to "
    "@{alias}",
    (catalog.MODEL_PROMOTION_DECIDED, "rejected"): "Promotion rejected: {model} v{version} to "
    "@{alias}",
}


def _known_goals(project: Project, condition: dict) -> dict[str, str]:
    goals = project_goals(project)
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
    setting = project_baseline(project)
    if setting is not None and setting.mode == "best":
        keys.append(setting.metric)
    logged = MetricSummary.objects.filter(run=run).order_by("key").values_list("key", flat=True)
    for key in logged[: DEFAULT_METRIC_COUNT + 1]:
        if key not in keys:
            keys.append(key)
    return keys[:DEFAULT_METRIC_COUNT]


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
    if event in catalog.MODEL_EVENTS:
        template = MODEL_TITLES.get((event, str(payload.get("decision") or "")))
        if template is not None:
            return template.format(
                model=payload.get("model", ""),
                version=payload.get("version", ""),
                alias=payload.get("alias", ""),
            )
    if event == catalog.CI_REPORTED and payload.get("verdict"):
        return CI_TITLES.get(str(payload["verdict"]), catalog.EVENT_TITLES[event])
    return catalog.EVENT_TITLES.get(event, event)


def _detail(delivery: Delivery) -> dict:
    payload = delivery.payload
    detail = str(payload.get("excerpt") or payload.get("summary") or "")[:DETAIL_MAX]
    mentions: tuple[Mention, ...] = ()
    if delivery.event_type == catalog.COMMENT_MENTION:
        users = User.objects.filter(username__in=payload.get("mentioned", [])).order_by("username")
        mentions = tuple(Mention(username=u.username, email=u.email) for u in users)
    detail_url = ""
    if payload.get("comment_id") and payload.get("run_id"):
        detail_url = links.comment_url(
            delivery.project.slug, payload["run_id"], int(payload["comment_id"])
        )
    return {"detail": detail, "detail_url": detail_url, "mentions": mentions}
