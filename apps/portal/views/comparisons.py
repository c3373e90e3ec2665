"""Saved comparisons: a member saves the compare page's runs under a name; the saved
comparison opens as the same page at /projects/<slug>/comparisons/<id>, with a
comment thread and (members) a share panel like the run page's.

Runs deleted since it was saved are left out with a note; the page says so when
fewer than two are left.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from apps.collab.models import SavedComparison
from apps.collab.selectors import comparison_get_in_project
from apps.collab.services import comparison_create
from apps.core.errors import Invalid
from apps.portal.views.base import PortalView
from apps.portal.views.compare import MIN_RUNS, api_history_url, compare_context, draws_webgl
from apps.portal.views.run.collab import RunCommentsView, RunShareLinksView
from apps.projects.models import Project, Role
from apps.runs.links import compare_path
from apps.runs.models import Run
from apps.runs.selectors import runs_in_project


def comparison_runs(comparison: SavedComparison) -> list[Run]:
    """The comparison's runs that are still live, in the order they were saved."""
    found = runs_in_project(project=comparison.project, public_ids=comparison.run_ids)
    return [found[run_id] for run_id in comparison.run_ids if run_id in found]


def too_few_message(left: int, saved: int) -> str:
    return (
        f"Only {left} of the {saved} runs of this comparison {'is' if left == 1 else 'are'} "
        f"left (the others were deleted); a comparison needs at least {MIN_RUNS}."
    )


class ComparisonsView(PortalView):
    """POST ``name`` and ``runs`` (the compare page's run ids): save the comparison
    and open it. A refused name comes back to the compare page with the reason."""

    access = Role.MEMBER

    def post(self, request, slug: str) -> HttpResponse:
        run_ids = request.POST.getlist("runs")
        try:
            comparison = comparison_create(
                principal=self.principal,
                project=self.project,
                name=request.POST.get("name", ""),
                run_ids=run_ids,
            )
        except Invalid as exc:
            messages.error(request, f"The comparison was not saved: {exc.message}.")
            return redirect(compare_path(slug, *run_ids))
        return redirect("portal:comparison", slug=slug, comparison_id=comparison.pk)


class ComparisonView(PortalView):
    access = Role.VIEWER

    @draws_webgl
    def get(self, request, slug: str, comparison_id: str) -> HttpResponse:
        comparison = comparison_get_in_project(project=self.project, comparison_id=comparison_id)
        runs = comparison_runs(comparison)
        role = self.role()
        context: dict[str, Any] = {
            "project": self.project,
            "comparison": comparison,
            "missing": len(comparison.run_ids) - len(runs),
            "can_share": role is not None and role >= Role.MEMBER,
        }
        if len(runs) < MIN_RUNS:
            context["error"] = too_few_message(len(runs), len(comparison.run_ids))
        else:
            context.update(
                compare_context(project=self.project, runs=runs, history_url=api_history_url())
            )
        return render(request, "portal/compare.html", context)


class OnComparison:
    """The thread and share panel of a saved comparison (the run page's views)."""

    project: Project  # set by the view it is mixed into (a PortalView)

    def target(self, needed: Role = Role.VIEWER, **kwargs) -> SavedComparison:
        # The view's ``access`` has checked the role; a comparison of another project
        # or none at all is NotFound, a 404 page.
        return comparison_get_in_project(
            project=self.project, comparison_id=kwargs["comparison_id"]
        )


class ComparisonCommentsView(OnComparison, RunCommentsView):
    url_name = "portal:comparison-comments"


class ComparisonShareLinksView(OnComparison, RunShareLinksView):
    url_name = "portal:comparison-share"
