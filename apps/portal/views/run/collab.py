"""The run page's comment thread and share links, swapped in place with htmx."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from apps.collab import selectors as collab_selectors
from apps.collab import services as collab_services
from apps.collab.models import COMMENT_MAX_LENGTH, Comment, ShareLink
from apps.core.errors import Forbidden, Invalid
from apps.portal.views.base import PortalView
from apps.portal.views.run.page import run_in_project
from apps.projects.models import Role
from apps.runs.models import Run

SHARE_CHOICES = (
    (3600, "1 hour"),
    (86400, "24 hours"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
    (90 * 86400, "90 days"),
)


def _comment_or_404(run: Run, comment_id: int) -> Comment:
    comment = (
        Comment.objects.select_related("run", "run__project").filter(pk=comment_id, run=run).first()
    )
    if comment is None:
        raise Http404("comment not found")
    comment.run = run
    return comment


class RunCommentsView(PortalView):
    """GET: the thread. POST: a new comment or reply (``body``, ``parent``), or
    ``action=edit|delete`` on ``comment``. Answers the thread either way; a refused
    comment comes back with its text and the reason."""

    access = Role.VIEWER

    def _thread(self, request, run: Run, *, error: str | None = None, draft: str = "",
                status: int = 200) -> HttpResponse:  # fmt: skip
        role = self.role()
        context = {
            "project": self.project,
            "run": run,
            "threads": collab_selectors.comment_thread(run=run),
            "me": request.user.pk,
            "is_admin": role is not None and role >= Role.ADMIN,
            "error": error,
            "draft": draft,
            "max_length": COMMENT_MAX_LENGTH,
        }
        return render(request, "portal/run/comments.html", context, status=status)

    def get(self, request, slug: str, run_id: str) -> HttpResponse:
        return self._thread(request, run_in_project(self, run_id))

    def post(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id)
        body = request.POST.get("body", "").replace("\r\n", "\n")
        action = request.POST.get("action", "create")
        try:
            if action == "create":
                parent = request.POST.get("parent") or None
                collab_services.comment_create(
                    principal=self.principal,
                    run=run,
                    body=body,
                    parent_id=int(parent) if parent and parent.isdigit() else parent,
                )
            elif action in {"edit", "delete"}:
                raw = request.POST.get("comment", "")
                comment = _comment_or_404(run, int(raw) if raw.isdigit() else -1)
                if action == "edit":
                    collab_services.comment_edit(
                        principal=self.principal, comment=comment, body=body
                    )
                else:
                    collab_services.comment_delete(principal=self.principal, comment=comment)
            else:
                raise Http404("no such action")
        except (Invalid, Forbidden) as exc:
            # htmx swaps only 2xx answers: the refusal is shown in the thread.
            return self._thread(request, run, error=exc.message, draft=body)
        return self._thread(request, run)


class RunShareLinksView(PortalView):
    """Members create share links for the run and revoke theirs (admins any)."""

    access = Role.MEMBER

    def _panel(self, request, run: Run, *, created=None, error: str | None = None) -> HttpResponse:
        role = self.role()
        context = {
            "project": self.project,
            "run": run,
            "links": collab_selectors.share_links_for_run(run=run),
            "created": created,
            "created_url": (
                request.build_absolute_uri(f"/s/{created.token}") if created is not None else ""
            ),
            "error": error,
            "choices": SHARE_CHOICES,
            "me": request.user.pk,
            "is_admin": role is not None and role >= Role.ADMIN,
        }
        return render(request, "portal/run/share.html", context)

    def get(self, request, slug: str, run_id: str) -> HttpResponse:
        return self._panel(request, run_in_project(self, run_id, needed=Role.MEMBER))

    def post(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id, needed=Role.MEMBER)
        try:
            if "revoke" in request.POST:
                raw = request.POST["revoke"]
                link = ShareLink.objects.filter(
                    pk=int(raw) if raw.isdigit() else -1, run=run
                ).first()
                if link is None:
                    raise Http404("share link not found")
                link.run = run
                collab_services.share_link_revoke(principal=self.principal, link=link)
                return self._panel(request, run)
            raw_expires = request.POST.get("expires_in", "")
            created = collab_services.share_link_create(
                principal=self.principal,
                run=run,
                expires_in=int(raw_expires) if raw_expires.isdigit() else raw_expires,
                include_artifacts=request.POST.get("include_artifacts") == "on",
            )
        except (Invalid, Forbidden) as exc:
            return self._panel(request, run, error=exc.message)
        return self._panel(request, run, created=created)
