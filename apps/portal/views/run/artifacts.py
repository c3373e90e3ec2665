"""The run page's artifacts browser: one folder at a time, loaded by htmx as the
user opens it."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.artifacts.models import Artifact
from apps.artifacts.selectors import artifact_list
from apps.core.errors import Invalid
from apps.portal.views.base import PortalView
from apps.portal.views.run.facts import human_size
from apps.portal.views.run.links import member_links
from apps.portal.views.run.page import run_in_project
from apps.projects.models import Role

# A folder shows at most this many files; the API and the CLI list the rest.
MAX_FILES_SHOWN = 500
# Previews the page fetches and shows itself: a plain image in an <img>, text, CSV
# and JSON through textContent. The server serves exactly these types inline
# (apps.artifacts.services.INLINE_TYPES); HTML, SVG and scripts never are.
PREVIEW_KINDS = {
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
    "text/plain": "text",
    "text/csv": "csv",
    "application/json": "json",
}
# An image above this size is only a download link.
MAX_IMAGE_PREVIEW_BYTES = 20 * 1024 * 1024


@dataclass
class FileRow:
    id: str
    name: str
    path: str
    size: int
    size_text: str
    version: int | None
    preview: str  # "", "image", "text", "csv" or "json"


@dataclass
class FolderRow:
    name: str
    path: str
    size_text: str
    file_count: int


def _file_row(artifact: Artifact) -> FileRow:
    kind = PREVIEW_KINDS.get(artifact.content_type.split(";")[0].strip().lower(), "")
    if kind == "image" and artifact.size > MAX_IMAGE_PREVIEW_BYTES:
        kind = ""
    return FileRow(
        id=artifact.public_id,
        name=artifact.filename,
        path=artifact.path,
        size=artifact.size,
        size_text=human_size(artifact.size),
        version=artifact.version,
        preview=kind,
    )


def folder_context(run, path: str) -> dict:
    """The folders and files directly in ``path`` of ``run`` for the folder partial;
    a malformed path is a 404."""
    path = path.strip("/")
    try:
        listing = artifact_list(run=run, path=path, recursive=False, page_size=1, cursor=None)
    except Invalid as exc:
        raise Http404(exc.message) from None
    folders = [
        FolderRow(name, folder_path, human_size(size), count)
        for name, folder_path, size, count in listing.folders
    ]
    return {
        "run": run,
        "path": path,
        "folders": folders,
        "files": [_file_row(artifact) for artifact in listing.files[:MAX_FILES_SHOWN]],
        "hidden_files": max(0, len(listing.files) - MAX_FILES_SHOWN),
    }


class RunArtifactsView(PortalView):
    """The folders and files directly in ``?path=`` (the root when absent)."""

    access = Role.VIEWER

    def get(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id)
        context = {
            **folder_context(run, request.GET.get("path", "")),
            "project": self.project,
            "links": member_links(self.project.slug, run.public_id),
        }
        # "Register as model…" (apps.portal.views.models), once, under the root listing.
        if not context["path"] and (self.role() or Role.VIEWER) >= Role.MEMBER:
            context["register_url"] = reverse(
                "portal:run-register-model", kwargs={"slug": slug, "run_id": run.public_id}
            )
        return render(request, "portal/run/artifact_folder.html", context)
