"""Which run a run is compared with: a baseline setting made concrete, and the text
form of a setting that the compare API and the CI step take (``branch:main``).

The setting's type and its one parse are ``apps.projects.comparison`` (the project
service validates it on save); this module resolves it to a run.
"""

from __future__ import annotations

import math
from typing import cast

from apps.core.errors import Invalid
from apps.projects.comparison import Baseline, baseline_parse
from apps.projects.models import Project
from apps.runs.models import MetricSummary, Run, RunStatus

MAX_BASELINE_SPEC_LENGTH = 300


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
    run_id, last = best
    run = Run.objects.select_related("project").get(pk=run_id)
    # The filter above (last__isnull=False) keeps NULL out; the stubs type the column
    # as nullable all the same.
    return run, cast(float, last)


def baseline_resolve(*, run: Run, setting: Baseline | None) -> Run | None:
    """The live run of ``run``'s project that ``setting`` picks for ``run`` to be
    compared with (the project's setting is ``project_baseline(run.project)``); never
    ``run`` itself. None when ``setting`` is None or no run fits."""
    if setting is None:
        return None
    if setting.mode == "best":
        found = best_run(project=run.project, metric=setting.metric, goal=setting.goal, exclude=run)
        return found[0] if found else None
    live = (
        Run.objects.select_related("project")
        .filter(project_id=run.project_id, deleted_at__isnull=True)
        .exclude(pk=run.pk)
    )
    if setting.mode == "branch":
        return (
            live.filter(status=RunStatus.FINISHED, git_branch=setting.branch)
            .order_by("-ended_at", "-pk")
            .first()
        )
    return live.filter(public_id=setting.run).first()


def baseline_spec_parse(text: object, *, field: str = "baseline") -> Baseline | None:
    """``branch:NAME``, ``run:ID``, ``best:METRIC:max|min`` as a baseline setting;
    None for ``""``/``project`` (use the project's). Raises Invalid naming the field."""
    if text is None or text == "" or text == "project":
        return None
    if not isinstance(text, str) or len(text) > MAX_BASELINE_SPEC_LENGTH:
        raise Invalid(
            f"{field} must be a string of at most {MAX_BASELINE_SPEC_LENGTH} characters",
            field=field,
        )
    kind, _, rest = text.partition(":")
    if kind == "branch":
        setting: dict[str, str] = {"mode": "branch", "branch": rest}
    elif kind == "run":
        setting = {"mode": "pinned", "run": rest}
    elif kind == "best":
        metric, _, goal = rest.rpartition(":")
        setting = {"mode": "best", "metric": metric, "goal": goal}
    else:
        raise Invalid(
            f"{field} {text!r} must be branch:NAME, run:ID, best:METRIC:max or best:METRIC:min",
            field=field,
        )
    return baseline_parse(setting, field=field)


def baseline_spec_text(setting: Baseline | None) -> str:
    """``setting`` in the form ``baseline_spec_parse`` reads; "" for none."""
    if setting is None:
        return ""
    if setting.mode == "branch":
        return f"branch:{setting.branch}"
    if setting.mode == "pinned":
        return f"run:{setting.run}"
    return f"best:{setting.metric}:{setting.goal}"
