"""The compare page: 2 to 20 runs of one project side by side.

The runs table's selection opens it as ``compare?runs=ID&runs=ID…``. The page's data
(the runs, every param and every metric's last value) is read in three queries
whatever the number of runs and keys, and embedded with ``json_script``; the metric
overlays fetch each run's downsampled history as they scroll into view, from the URL
pattern the page gives them (the API here; a share link's own endpoint on /s/<token>).

A saved comparison (apps/portal/views/comparisons.py) and a share link of one
(apps/portal/views/shared.py) render the same page from ``compare_context``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from csp.constants import UNSAFE_EVAL
from csp.decorators import csp_update
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator

from apps.collab.models import COMPARISON_NAME_MAX_LENGTH
from apps.core.floats import float_out
from apps.portal.views.base import PortalView
from apps.projects.models import Project, Role
from apps.runs.links import run_path
from apps.runs.models import Run
from apps.runs.selectors import run_metric_last_rows, run_param_rows, runs_in_project

MIN_RUNS = 2
MAX_RUNS = 20
RUN_PLACEHOLDER = "__run__"  # compare.js puts each run's id here in the history URL
SHOWN_ID_LENGTH = 40  # an unknown id is echoed back, cut to this length
# One colour per run, in the order the runs were chosen; every chart uses them.
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
    "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
)  # fmt: skip


# plotly draws the parallel-coordinates plot with WebGL through regl, which compiles its
# drawing code with Function(): the pages that draw it allow eval in scripts, and only
# they do. htmx's own eval is off on every page (base.html's htmx-config), so no markup
# can reach eval there. (method_decorator: django-csp's decorator is typed for function views.)
draws_webgl = method_decorator(csp_update({"script-src": [UNSAFE_EVAL]}))


class CompareError(Exception):
    """A selection the page cannot show; the message says what to fix."""


def compare_run_ids(raw: list[str]) -> list[str]:
    """The chosen ids, stripped, blanks dropped, each once, in the order given.
    Raises CompareError when there are fewer than MIN_RUNS or more than MAX_RUNS."""
    ids = list(dict.fromkeys(value.strip() for value in raw if value.strip()))
    if len(ids) < MIN_RUNS:
        raise CompareError(
            f"Choose at least {MIN_RUNS} runs to compare; this link names {len(ids)}. "
            "Select them in the runs table."
        )
    if len(ids) > MAX_RUNS:
        raise CompareError(
            f"At most {MAX_RUNS} runs can be compared at once; this link names {len(ids)}. "
            f"Select {MAX_RUNS} or fewer."
        )
    return ids


def compare_runs_get(*, project: Project, ids: list[str]) -> list[Run]:
    """The project's live runs with these public ids, in the order of ``ids``.
    Raises CompareError naming the ids that are not live runs of this project, with
    one message for "missing", "deleted" and "in another project" alike."""
    found = runs_in_project(project=project, public_ids=ids)
    missing = [run_id for run_id in ids if run_id not in found]
    if missing:
        shown = ", ".join(f"“{run_id[:SHOWN_ID_LENGTH]}”" for run_id in missing)
        noun = "Run" if len(missing) == 1 else "Runs"
        raise CompareError(f"{noun} {shown} not found in this project.")
    return [found[run_id] for run_id in ids]


@dataclass
class ParamRow:
    key: str
    values: list[str | None]  # one per run; None where the run has no such param
    numbers: list[float | None] | None  # the values as numbers when every run has one
    differs: bool


def param_rows(runs: list[Run]) -> list[ParamRow]:
    """One row per param key of any of the runs (one query), sorted by key. A run
    without the param differs from a run with it."""
    column = {run.pk: index for index, run in enumerate(runs)}
    values: dict[str, list[str | None]] = {}
    numbers: dict[str, list[float | None]] = {}
    for run_pk, key, value, value_num in run_param_rows(runs=runs):
        values.setdefault(key, [None] * len(runs))[column[run_pk]] = value
        numbers.setdefault(key, [None] * len(runs))[column[run_pk]] = value_num
    result = []
    for key in sorted(values):
        numeric = numbers[key]
        result.append(
            ParamRow(
                key=key,
                values=values[key],
                numbers=numeric if None not in numeric else None,
                differs=len(set(values[key])) > 1,
            )
        )
    return result


def metric_last_values(runs: list[Run]) -> dict[str, list[float | str | None]]:
    """Each metric key of any of the runs (one query), sorted, with each run's last
    value: None where the run never logged the key, "NaN"/"Infinity"/"-Infinity"
    spelled out as the API spells them."""
    column = {run.pk: index for index, run in enumerate(runs)}
    last: dict[str, list[float | str | None]] = {}
    for run_pk, key, value in run_metric_last_rows(runs=runs):
        # A summary row whose last value is NULL holds a NaN (see MetricSummary).
        last.setdefault(key, [None] * len(runs))[column[run_pk]] = (
            "NaN" if value is None else float_out(value)
        )
    return {key: last[key] for key in sorted(last)}


def api_history_url() -> str:
    """The API's metric history URL with RUN_PLACEHOLDER for the run's id."""
    return reverse("run-metric-history", kwargs={"run_id": RUN_PLACEHOLDER})


def compare_data(
    *, project: Project, runs: list[Run], params: list[ParamRow], history_url: str, links: bool
) -> dict[str, Any]:
    """What compare.js draws, embedded in the page with json_script. ``links``: give
    each run its page's URL (not on a share link's page)."""
    last = metric_last_values(runs)
    return {
        "runs": [
            {
                "id": run.public_id,
                "name": run.name,
                "label": run.label,
                "status": run.status,
                "color": PALETTE[index],
                "url": run_path(project.slug, run.public_id) if links else None,
                "history_url": history_url.replace(RUN_PLACEHOLDER, run.public_id),
            }
            for index, run in enumerate(runs)
        ],
        "metric_keys": list(last),
        "last": last,
        # Only params that differ make an axis of the parallel-coordinates plot.
        "differing_params": [
            {"key": row.key, "values": row.values, "numbers": row.numbers}
            for row in params
            if row.differs
        ],
    }


def compare_context(
    *, project: Project, runs: list[Run], history_url: str, links: bool = True
) -> dict[str, Any]:
    """The template context of the compared runs (portal/compare_body.html and the
    embedded data). ``history_url`` holds RUN_PLACEHOLDER; ``links``: link each run
    to its page (not on a share link's page)."""
    ids = [run.public_id for run in runs]
    params = param_rows(runs)
    data = compare_data(
        project=project, runs=runs, params=params, history_url=history_url, links=links
    )
    return {
        "runs": [
            {
                "run": run,
                "color": PALETTE[index],
                "without": urlencode([("runs", other) for other in ids if other != ids[index]]),
            }
            for index, run in enumerate(runs)
        ],
        "links": links,
        "history_url": history_url,
        "params": params,
        "differing": sum(1 for row in params if row.differs),
        "metric_keys": data["metric_keys"],
        "data": data,
    }


class CompareView(PortalView):
    access = Role.VIEWER

    @draws_webgl
    def get(self, request, slug: str) -> HttpResponse:
        context: dict[str, Any] = {"project": self.project}
        try:
            ids = compare_run_ids(request.GET.getlist("runs"))
            runs = compare_runs_get(project=self.project, ids=ids)
        except CompareError as exc:
            context["error"] = str(exc)
            return render(request, "portal/compare.html", context, status=400)
        role = self.role()
        context.update(
            compare_context(project=self.project, runs=runs, history_url=api_history_url())
        )
        context.update(
            {
                "can_remove": len(runs) > MIN_RUNS,
                "can_save": role is not None and role >= Role.MEMBER,
                "name_max_length": COMPARISON_NAME_MAX_LENGTH,
            }
        )
        return render(request, "portal/compare.html", context)
