"""Project settings for admins (being built)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from apps.portal.views.base import PortalView
from apps.projects.models import Role


class ProjectSettingsView(PortalView):
    access = Role.ADMIN

    def get(self, request, slug: str) -> HttpResponse:
        return render(request, "portal/settings.html", {"project": self.project})
