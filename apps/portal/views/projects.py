"""The projects the user can read, and creating one."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify

from apps.core.errors import Conflict, Invalid
from apps.portal.views.base import SIGNED_IN, PortalView
from apps.projects.selectors import project_list_for_principal
from apps.projects.services import project_create
from apps.projects.validation import project_create_clean
from apps.runs.selectors import run_counts_by_project

SLUG_MAX = 64  # apps.projects.models.SLUG_RE


class ProjectListView(PortalView):
    access = SIGNED_IN

    def _page(self, request, *, form=None, error=None, field=None, status=200) -> HttpResponse:
        projects = list(project_list_for_principal(principal=self.principal))
        counts = run_counts_by_project(projects=projects) if projects else {}
        for project in projects:
            project.run_count = counts.get(project.pk, 0)
        context = {"projects": projects, "form": form or {}, "error": error, "field": field}
        return render(request, "portal/projects.html", context, status=status)

    def get(self, request) -> HttpResponse:
        return self._page(request)

    def post(self, request) -> HttpResponse:
        """Create a project from its name; the slug is the one typed, or made from the
        name when left empty. A refusal (a bad or taken slug, a bad name) is shown in
        the form with what was typed: 400, or 409 for a taken slug."""
        form = {
            "slug": request.POST.get("slug", "").strip(),
            "name": request.POST.get("name", "").strip(),
            "description": request.POST.get("description", "").strip(),
        }
        try:
            if not form["name"]:
                raise Invalid("give the project a name", field="name")
            if not form["slug"]:
                form["slug"] = slug_from_name(form["name"])
            project = project_create(principal=self.principal, data=project_create_clean(form))
        except (Invalid, Conflict) as exc:
            message = exc.message
            if isinstance(exc, Conflict) and exc.field == "slug":
                message = (
                    f"The slug {form['slug']} is taken by another project: change the slug, "
                    f"for example to {form['slug'][: SLUG_MAX - 2]}-2."
                )
            return self._page(request, form=form, error=message, field=exc.field, status=exc.status)
        return redirect("portal:runs", slug=project.slug)


def slug_from_name(name: str) -> str:
    """The slug a name suggests: ``"Vision Models (v2)"`` → ``"vision-models-v2"``;
    accents dropped, other characters to single dashes, at most SLUG_MAX characters.
    Raises Invalid (field ``slug``) when the name has no letter or digit to keep."""
    slug = re.sub(r"[^a-z0-9]+", "-", slugify(name)).strip("-")[:SLUG_MAX].rstrip("-")
    if not slug:
        raise Invalid(
            "the name has no Latin letter or digit to make a slug from; type a slug",
            field="slug",
        )
    return slug
