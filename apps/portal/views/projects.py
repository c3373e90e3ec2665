"""The projects the user can read, and creating one."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render

from apps.core.errors import Invalid
from apps.portal.views.base import SIGNED_IN, PortalView
from apps.projects.selectors import project_list_for_principal
from apps.projects.services import project_create
from apps.runs.models import Run


class ProjectListView(PortalView):
    access = SIGNED_IN

    def _page(self, request, *, form=None, error=None, field=None, status=200) -> HttpResponse:
        projects = list(project_list_for_principal(principal=self.principal))
        counts = {}
        if projects:
            from django.db.models import Count

            counts = dict(
                Run.objects.filter(project__in=projects, deleted_at__isnull=True)
                .values_list("project")
                .annotate(n=Count("pk"))
            )
        for project in projects:
            project.run_count = counts.get(project.pk, 0)
        context = {"projects": projects, "form": form or {}, "error": error, "field": field}
        return render(request, "portal/projects.html", context, status=status)

    def get(self, request) -> HttpResponse:
        return self._page(request)

    def post(self, request) -> HttpResponse:
        form = {
            "slug": request.POST.get("slug", "").strip(),
            "name": request.POST.get("name", "").strip(),
            "description": request.POST.get("description", "").strip(),
        }
        try:
            project = project_create(principal=self.principal, **form)
        except Invalid as exc:
            return self._page(request, form=form, error=exc.message, field=exc.field, status=400)
        return redirect("portal:runs", slug=project.slug)
