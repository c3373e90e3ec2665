"""The run page's comment thread and share links, swapped in place with htmx. The
saved comparison page subclasses these views (apps/portal/views/comparisons.py): a
view names its ``target`` (a run or a comparison) and the URL the forms post to."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.collab import selectors as collab_selectors
from apps.collab import services as collab_services
from apps.collab.models import (
    COMMENT_MAX_LENGTH,
    SHARE_PART_NAMES,
    SHARE_PARTS,
    SHARE_SHOWN,
    SHARE_SHOWN_COMPARISON,
)
from apps.collab.validation import (
    comment_create_clean,
    comment_edit_clean,
    share_link_create_clean,
)
from apps.core.errors import Forbidden, Invalid
from apps.core.ids import integer_parse
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


class OnRun(PortalView):
    """What the thread or the share panel is on: here the run; the saved comparison
    views override both methods."""

    url_name: str

    def target(self, needed: Role = Role.VIEWER, **kwargs):
        """The run of the page's project, or a 404 page."""
        return run_in_project(self, kwargs["run_id"], needed=needed)

    def post_url(self, **kwargs) -> str:
        """Where the forms post: this view's own URL."""
        return reverse(self.url_name, kwargs=kwargs)


class RunCommentsView(OnRun):
    """GET: the thread. POST: a new comment or reply (``body``, ``parent``), or
    ``action=edit|delete`` on ``comment``. Answers the thread either way; a refused
    comment comes back with its text and the reason."""

    access = Role.VIEWER
    url_name = "portal:run-comments"

    def _context(self, request, **more) -> dict:
        role = self.role()
        return {
            "project": self.project,
            "post_url": self.post_url(**self.kwargs),
            "me": request.user.pk,
            "is_admin": role is not None and role >= Role.ADMIN,
            "max_length": COMMENT_MAX_LENGTH,
            **more,
        }

    def _thread(self, request, target, *, error: str | None = None, draft: str = "",
                status: int = 200) -> HttpResponse:  # fmt: skip
        threads = collab_selectors.comment_thread_recent(target=target)
        context = self._context(request, threads=threads, error=error, draft=draft)
        return render(request, "portal/run/comments.html", context, status=status)

    def get(self, request, **kwargs) -> HttpResponse:
        """The thread; with ``before`` (a comment id) the threads before that one, and
        with ``thread`` too the replies of that thread before that reply: the pieces
        that a "show earlier" button swaps in."""
        target = self.target(**kwargs)
        if "before" not in request.GET:
            return self._thread(request, target)
        before = collab_selectors.comment_get_on(target=target, comment_id=request.GET["before"])
        if "thread" not in request.GET:
            if before.parent_id is not None:
                raise Http404("comment not found")
            threads = collab_selectors.comment_thread_recent(target=target, before=before)
            context = self._context(request, threads=threads)
            return render(request, "portal/run/comment_threads.html", context)
        thread = collab_selectors.comment_get_on(target=target, comment_id=request.GET["thread"])
        if before.parent_id != thread.pk:
            raise Http404("comment not found")
        replies = collab_selectors.comment_replies_recent(thread=thread, before=before)
        context = self._context(request, thread=thread, replies=replies)
        return render(request, "portal/run/comment_replies.html", context)

    def post(self, request, **kwargs) -> HttpResponse:
        target = self.target(**kwargs)
        body = request.POST.get("body", "").replace("\r\n", "\n")
        action = request.POST.get("action", "create")
        try:
            if action == "create":
                parent = request.POST.get("parent") or None
                data = comment_create_clean(
                    {"body": body, "parent": _form_int(parent) if parent else None}
                )
                collab_services.comment_create(
                    principal=self.principal, target=target, body=data.body, parent_id=data.parent
                )
            elif action in {"edit", "delete"}:
                comment = collab_selectors.comment_get_on(
                    target=target, comment_id=request.POST.get("comment", "")
                )
                if action == "edit":
                    edit = comment_edit_clean({"body": body})
                    collab_services.comment_edit(
                        principal=self.principal, comment=comment, body=edit.body
                    )
                else:
                    collab_services.comment_delete(principal=self.principal, comment=comment)
            else:
                raise Http404("no such action")
        except (Invalid, Forbidden) as exc:
            # htmx swaps only 2xx answers: the refusal is shown in the thread.
            return self._thread(request, target, error=exc.message, draft=body)
        return self._thread(request, target)


class RunShareLinksView(OnRun):
    """Members create share links for the run and revoke theirs (admins any)."""

    access = Role.MEMBER
    url_name = "portal:run-share"

    def _panel(self, request, target, *, created=None, error: str | None = None,
               ticked: frozenset[str] = frozenset()) -> HttpResponse:  # fmt: skip
        role = self.role()
        is_run = isinstance(target, Run)
        context = {
            "project": self.project,
            "post_url": self.post_url(**self.kwargs),
            "is_run": is_run,
            "parts": SHARE_PARTS if is_run else (),
            "ticked": ticked,
            "will_show": _will_show(is_run=is_run, ticked=ticked),
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
        """The panel; with ``?preview``, only its "will show" list for the boxes ticked
        in the query (the form's own fields), which the panel reloads on every change."""
        target = self.target(needed=Role.MEMBER, **kwargs)
        if "preview" in request.GET:
            context = {
                "will_show": _will_show(
                    is_run=isinstance(target, Run), ticked=_ticked(request.GET)
                ),
                "post_url": self.post_url(**self.kwargs),
            }
            return render(request, "portal/run/share_preview.html", context)
        return self._panel(request, target)

    def post(self, request, **kwargs) -> HttpResponse:
        target = self.target(needed=Role.MEMBER, **kwargs)
        ticked = _ticked(request.POST)
        try:
            if "revoke" in request.POST:
                link = collab_selectors.share_link_get_on(
                    target=target, link_id=request.POST["revoke"]
                )
                collab_services.share_link_revoke(principal=self.principal, link=link)
                return self._panel(request, target)
            data = share_link_create_clean(
                {
                    "expires_in": _form_int(request.POST.get("expires_in", "")),
                    **{f"include_{name}": name in ticked for name in SHARE_PART_NAMES},
                }
            )
            created = collab_services.share_link_create(
                principal=self.principal,
                target=target,
                expires_in=data.expires_in,
                **data.include,
            )
        except (Invalid, Forbidden) as exc:
            return self._panel(request, target, error=exc.message, ticked=ticked)
        return self._panel(request, target, created=created)


def _ticked(form) -> frozenset[str]:
    """The SHARE_PARTS whose box (``include_<name>``) the form ticked."""
    return frozenset(name for name in SHARE_PART_NAMES if form.get(f"include_{name}") == "on")


def _will_show(*, is_run: bool, ticked: frozenset[str]) -> list[str]:
    """Everything a new link will show: the defaults, then the parts ticked. A
    comparison's page shows none of SHARE_PARTS, whatever is ticked."""
    if not is_run:
        return list(SHARE_SHOWN_COMPARISON)
    return [*SHARE_SHOWN, *(part.label for part in SHARE_PARTS if part.name in ticked)]


def _form_int(raw: str) -> int | str:
    """An integer form field as an int when it is ASCII digits, else the text as sent
    (which the clean function refuses, naming the field)."""
    value = integer_parse(raw)
    return raw if value is None else value
