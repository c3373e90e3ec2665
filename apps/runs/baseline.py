"""Which run a run is compared with: the project's baseline setting made concrete.

Read by notifications and the CI step. Settings are validated by
``apps.projects.comparison``; this only interprets them.
"""

from __future__ import annotations

import math

from apps.projects.models import Project
from apps.runs.models import MetricSummary, Run, RunStatus


def best_run(
    *, project: Project, metric: str, goal: str, exclude: Run | None = None
) -> tuple[Run, float] | None:
    """The finished run with the best last value of ``metric`` (highest for goal
    ``max``, lowest for ``min``) and that value; NaN and infinities never win."""
    summaries = MetricSummary.objects.filter(
        run__project=project,
        run__deleted_at__isnull=True,
        run__status=RunStatus.FINISHED,
        key=metric,
        last__isnull=False,
        last__lt=math.inf,
        last__gt=-math.inf,
    )
    if exclude is not None:
        summaries = summaries.exclude(run_id=exclude.pk)
    order = "-last" if goal == "max" else "last"
    best = summaries.order_by(order, "run_id").values_list("run_id", "last").first()
    if best is None:
        return None
    run = Run.objects.select_related("project").get(pk=best[0])
    return run, best[1]


def baseline_for(*, run: Run, setting: dict | None = None) -> Run | None:
    """The run ``run`` is compared with under the project's baseline setting (or
    ``setting``), never ``run`` itself; None when there is none."""
    setting = run.project.baseline if setting is None else setting
    mode = setting.get("mode")
    live = (
        Run.objects.select_related("project")
        .filter(project_id=run.project_id, deleted_at__isnull=True)
        .exclude(pk=run.pk)
    )
    if mode == "best":
        found = best_run(
            project=run.project, metric=setting["metric"], goal=setting["goal"], exclude=run
        )
        return found[0] if found else None
    if mode == "branch":
        return (
            live.filter(status=RunStatus.FINISHED, git_branch=setting["branch"])
            .order_by("-ended_at", "-pk")
            .first()
        )
    if mode == "pinned":
        return live.filter(public_id=setting["run"]).first()
    return None


def baseline_label(setting: dict) -> str:
    """How the baseline was chosen, in words."""
    mode = setting.get("mode")
    if mode == "best":
        return f"best run by {setting['metric']} ({setting['goal']})"
    if mode == "branch":
        return f"latest finished run on {setting['branch']}"
    if mode == "pinned":
        return "pinned baseline run"
    return ""
