"""The compare page for 2 to 20 runs (being built)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from apps.portal.views.base import PortalView
from apps.projects.models import Role


class CompareView(PortalView):
    access = Role.VIEWER

    def get(self, request, slug: str) -> HttpResponse:
        return render(request, "portal/compare.html", {"project": self.project})
