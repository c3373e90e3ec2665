"""One run's page (being built)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from apps.portal.views.base import PortalView
from apps.projects.models import Role
from apps.runs.selectors import run_get_for_principal


class RunPageView(PortalView):
    access = Role.VIEWER

    def get(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_get_for_principal(principal=self.principal, run_id=run_id)
        if run.project_id != self.project.pk:
            raise Http404("run not found")
        return render(request, "portal/run.html", {"project": self.project, "run": run})
