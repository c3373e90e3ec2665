"""The run page's comment thread and share links, swapped in place with htmx. The
saved comparison page subclasses these views (apps/portal/views/comparisons.py): a
view names its ``target`` (a run or a comparison) and the URL the forms post to."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

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


def _on(target) -> dict[str, object]:
    return {"run": target} if isinstance(target, Run) else {"comparison": target}


def _comment_or_404(target, comment_id: int) -> Comment:
    comment = Comment.objects.filter(pk=comment_id, **_on(target)).first()
    if comment is None:
        raise Http404("comment not found")
    setattr(comment, "run" if isinstance(target, Run) else "comparison", target)
    return comment


class OnRun:
    """What the thread or the share panel is on: here the run; the saved comparison
    views override both methods."""

    url_name: str

    def target(self, needed: Role = Role.VIEWER, **kwargs):
        """The run of the page's project, or a 404 page."""
        return run_in_project(self, kwargs["run_id"], needed=needed)

    def post_url(self, **kwargs) -> str:
        """Where the forms post: this view's own URL."""
        return reverse(self.url_name, kwargs=kwargs)


class RunCommentsView(OnRun, PortalView):
    """GET: the thread. POST: a new comment or reply (``body``, ``parent``), or
    ``action=edit|delete`` on ``comment``. Answers the thread either way; a refused
    comment comes back with its text and the reason."""

    access = Role.VIEWER
    url_name = "portal:run-comments"

    def _thread(self, request, target, *, error: str | None = None, draft: str = "",
                status: int = 200) -> HttpResponse:  # fmt: skip
        role = self.role()
        context = {
            "project": self.project,
            "post_url": self.post_url(**self.kwargs),
            "threads": collab_selectors.comment_thread(target=target),
            "me": request.user.pk,
            "is_admin": role is not None and role >= Role.ADMIN,
            "error": error,
            "draft": draft,
            "max_length": COMMENT_MAX_LENGTH,
        }
        return render(request, "portal/run/comments.html", context, status=status)

    def get(self, request, **kwargs) -> HttpResponse:
        return self._thread(request, self.target(**kwargs))

    def post(self, request, **kwargs) -> HttpResponse:
        target = self.target(**kwargs)
        body = request.POST.get("body", "").replace("\r\n", "\n")
        action = request.POST.get("action", "create")
        try:
            if action == "create":
                parent = request.POST.get("parent") or None
                collab_services.comment_create(
                    principal=self.principal,
                    target=target,
                    body=body,
                    parent_id=int(parent) if parent and parent.isdigit() else parent,
                )
            elif action in {"edit", "delete"}:
                raw = request.POST.get("comment", "")
                comment = _comment_or_404(target, int(raw) if raw.isdigit() else -1)
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
            return self._thread(request, target, error=exc.message, draft=body)
        return self._thread(request, target)


class RunShareLinksView(OnRun, PortalView):
    """Members create share links for the run and revoke theirs (admins any)."""

    access = Role.MEMBER
    url_name = "portal:run-share"

    def _panel(self, request, target, *, created=None, error: str | None = None) -> HttpResponse:
        role = self.role()
        context = {
            "project": self.project,
            "post_url": self.post_url(**self.kwargs),
            "is_run": isinstance(target, Run),
            "links": collab_selectors.share_links_for(target=target),
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

    def get(self, request, **kwargs) -> HttpResponse:
        return self._panel(request, self.target(needed=Role.MEMBER, **kwargs))

    def post(self, request, **kwargs) -> HttpResponse:
        target = self.target(needed=Role.MEMBER, **kwargs)
        try:
            if "revoke" in request.POST:
                raw = request.POST["revoke"]
                link = ShareLink.objects.filter(
                    pk=int(raw) if raw.isdigit() else -1, **_on(target)
                ).first()
                if link is None:
                    raise Http404("share link not found")
                setattr(link, "run" if isinstance(target, Run) else "comparison", target)
                collab_services.share_link_revoke(principal=self.principal, link=link)
                return self._panel(request, target)
            raw_expires = request.POST.get("expires_in", "")
            created = collab_services.share_link_create(
                principal=self.principal,
                target=target,
                expires_in=int(raw_expires) if raw_expires.isdigit() else raw_expires,
                include_artifacts=request.POST.get("include_artifacts") == "on",
            )
        except (Invalid, Forbidden) as exc:
            return self._panel(request, target, error=exc.message)
        return self._panel(request, target, created=created)
