"""One run's page, and the small pieces it reloads: the status badge while the run
is RUNNING, and the notes form."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apps.core.errors import Invalid
from apps.core.markdown import markdown_render
from apps.portal.views.base import PortalView
from apps.portal.views.run import facts
from apps.portal.views.run.ci import ci_page_context
from apps.portal.views.run.links import member_links
from apps.projects.models import Role
from apps.runs import selectors
from apps.runs.links import run_path, runs_path
from apps.runs.models import Run, RunStatus
from apps.runs.services import run_update
from apps.runs.validation import run_update_clean

# htmx stops polling an element when the answer is 286.
HTMX_STOP_POLLING = 286


def run_in_project(
    view: PortalView,
    run_id: str,
    *,
    needed: Role = Role.VIEWER,
    related: tuple[str, ...] = ("project",),
) -> Run:
    """The run of the page's project, through the API's selector: a run of another
    project, a deleted run or one the user may not read is a 404 page."""
    run = selectors.run_get_for_principal(
        principal=view.principal, run_id=run_id, needed=needed, related=related
    )
    if run.project_id != view.project.pk:
        raise Http404("run not found")
    run.project = view.project
    return run


def _group_url(project_slug: str, group: str) -> str:
    """The runs table filtered to the runs of ``group`` (quotes doubled, as the
    search language escapes them)."""
    quoted = group.replace("'", "''")
    query = urlencode({"filter": f"group = '{quoted}'"})
    return f"{runs_path(project_slug)}?{query}"


def run_context(run: Run) -> dict:
    """What the run page shows of ``run``, for a member's page and a shared one: the
    header (status, times, git, ``key_metrics``), the charts' groups, and the tabs'
    facts (overview, params, summary, notes)."""
    held = selectors.run_detail(run=run)
    summaries = [(row["key"], row["last"], row["count"]) for row in held.metrics]
    groups = facts.chart_groups(summaries)
    datasets = held.datasets
    for dataset in datasets:
        dataset.size_text = facts.human_size(dataset.size)
    return {
        "run": run,
        "duration": facts.run_duration(run.started_at, run.ended_at, timezone.now()),
        "environment": facts.environment_facts(run.environment),
        "ci": facts.ci_facts(run.ci),
        "params": list(held.params.items()),
        "tags": list(held.tags.items()),
        "summary": [(key, facts.value_text(value)) for key, value in held.summary.items()],
        "datasets": datasets,
        "groups": groups,
        "key_count": sum(len(group.keys) for group in groups),
        "key_metrics": facts.key_metrics(summaries, primary=run.project.primary_metrics or []),
        "notes_html": markdown_render(run.notes),
    }


class RunPageView(PortalView):
    access = Role.VIEWER

    def get(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id, related=("project", "author", "parent", "ci_report"))
        role = self.role()
        context = {
            **run_context(run),
            # Not on shared pages: the report names and links other runs of the project.
            **ci_page_context(run, project_slug=self.project.slug),
            "project": self.project,
            "role": role,
            "can_edit": role is not None and role >= Role.MEMBER,
            "group_url": _group_url(self.project.slug, run.group) if run.group else "",
            "links": member_links(self.project.slug, run.public_id),
        }
        return render(request, "portal/run.html", context)


class RunStatusView(PortalView):
    """The status badge, polled by htmx every few seconds while the run is RUNNING;
    once it has ended the answer is 286, which stops the polling."""

    access = Role.VIEWER

    def get(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id)
        context = {
            "project": self.project,
            "run": run,
            "duration": facts.run_duration(run.started_at, run.ended_at, timezone.now()),
            "oob": True,
            "links": member_links(self.project.slug, run.public_id),
        }
        response = render(request, "portal/run/status.html", context)
        if run.status != RunStatus.RUNNING:
            response.status_code = HTMX_STOP_POLLING
        return response


class RunNotesView(PortalView):
    """Members and admins edit the notes (markdown); a viewer's POST is a 403."""

    access = Role.MEMBER

    def post(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id, needed=Role.MEMBER)
        # Browsers send a textarea's line breaks as CRLF.
        notes = request.POST.get("notes", "").replace("\r\n", "\n")
        try:
            data = run_update_clean({"notes": notes})
        except Invalid as exc:
            messages.error(request, f"The notes were not saved: they {exc.message}.")
        else:
            run_update(principal=self.principal, run=run, data=data)
            messages.success(request, "Notes saved.")
        return redirect(f"{run_path(slug, run.public_id)}#notes")
