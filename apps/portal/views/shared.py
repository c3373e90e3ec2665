"""``/s/<token>``: one run or one saved comparison, read-only, for whoever holds a
share link.

No account, no project navigation, no forms: the page and the requests it makes
(chart data, the status badge, artifact folders and downloads) are all answered
under the token, which is checked against the database on every request, so a
revoked or expired link is dead at once on every process. Any method but GET is
refused with a 403.

A comparison's link shows the compare page of its runs that are still live; its
charts read each run's history from ``/s/<token>/runs/<run_id>/metrics/history``,
which answers only for those runs. The run endpoints below answer only a run's link.

A run's link shows what its creator chose (``ShareLink.reveals``): the page and every
request it makes read the run through ``shared_run``, a copy holding only those parts,
so no template or fragment can show a part the link does not reveal.

Requests are throttled per client address (``KIROKU_THROTTLE_SHARE``): every page view
counts, and so does every request whose token names no live link (a guess); an address
over the rate gets 429 with ``Retry-After`` on every URL here.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.artifacts.selectors import artifact_get_in_run
from apps.artifacts.services import artifact_download_url
from apps.collab.models import (
    SHARE_PARTS,
    SHARE_SHOWN,
    SHARE_SHOWN_COMPARISON,
    SavedComparison,
    ShareLink,
)
from apps.collab.services import share_link_check, share_link_open
from apps.core.errors import KirokuError, NotFound
from apps.core.renderers import StrictJSONRenderer
from apps.core.throttles import share_request_wait
from apps.portal.views.base import ANYONE, PortalView
from apps.portal.views.compare import MIN_RUNS, RUN_PLACEHOLDER, compare_context, draws_webgl
from apps.portal.views.comparisons import comparison_runs, too_few_message
from apps.portal.views.run import facts
from apps.portal.views.run.artifacts import folder_context
from apps.portal.views.run.ci import ci_badge, ci_links, ci_report_view, run_ci_report
from apps.portal.views.run.links import shared_links
from apps.portal.views.run.page import HTMX_STOP_POLLING, run_context
from apps.runs.history import metric_history_answer, metric_keys_answer
from apps.runs.models import Run, RunStatus
from apps.runs.selectors import runs_in_project

# Which part of a run each recorded environment field belongs to; any other field
# (one a later client may send) belongs to "environment".
ENVIRONMENT_PART = {"command": "command", "cwd": "directory", "hostname": "host"}
# The run page's cards that hold more than one part, and those parts: a card says which
# of them the link leaves out.
CARD_PARTS = {
    "code": ("git_diff", "command", "directory"),
    "environment": ("environment", "host"),
}


def shared_run(link: ShareLink) -> Run:
    """A copy of ``link``'s run (never saved) holding only what the link reveals: git
    state without ``git_diff``, each environment field without its part, the CI context
    without ``ci``, all emptied."""
    if link.run is None:  # a comparison's link: it has no run to show
        raise Http404("share link not found")
    run = copy.copy(link.run)
    reveals = set(link.reveals)
    if "git_diff" not in reveals:
        run.git_commit = run.git_branch = run.git_remote = run.git_diff = ""
        run.git_dirty = None
        run.git_diff_truncated = False
    environment = run.environment if isinstance(run.environment, dict) else {}
    run.environment = {
        name: value
        for name, value in environment.items()
        if ENVIRONMENT_PART.get(name, "environment") in reveals
    }
    if "ci" not in reveals:
        run.ci = {}
    return run


def shared_run_context(link: ShareLink, token: str) -> dict[str, Any]:
    """The shared page's context: the run page's, from ``shared_run``, with what the
    link withholds named (``withheld``: part → its short name; ``withheld_notes``: card
    → the parts it leaves out) so the page says what is missing and why."""
    run = shared_run(link)
    reveals = set(link.reveals)
    context = run_context(run)
    withheld = {part.name: part.short for part in SHARE_PARTS if part.name not in reveals}
    if "directory" in withheld:
        for dataset in context["datasets"]:
            dataset.uri = ""
    if "ci" in reveals:
        context.update(_shared_ci(run))
    return {
        **context,
        "project": run.project,
        "link": link,
        "can_edit": False,
        "links": shared_links(token, include_artifacts=link.include_artifacts),
        "shown": [*SHARE_SHOWN, *(part.label for part in link.reveal_parts)],
        "withheld": withheld,
        "withheld_notes": {
            card: ", ".join(withheld[name] for name in parts if name in withheld)
            for card, parts in CARD_PARTS.items()
        },
    }


def _shared_ci(run: Run) -> dict[str, Any]:
    """The run page's CI pieces (badge, links, report) for a link that reveals CI,
    with the report's baseline neither named nor linked: it is another run of the
    project, which a run's link never shares (``ci_baseline_withheld`` says one was
    compared)."""
    report = run_ci_report(run)
    view = ci_report_view(report, project_slug=run.project.slug) if report else None
    withheld = view is not None and bool(view.baseline_url or view.baseline_name)
    if view is not None:
        view.baseline_name = view.baseline_url = view.compare_url = ""
    return {
        "ci_badge": ci_badge(run.ci, report.verdict if report is not None else None),
        "ci_links": ci_links(run.ci),
        "ci_report": view,
        "ci_baseline_withheld": withheld,
    }


def _json(data, status: int = 200) -> HttpResponse:
    body = StrictJSONRenderer().render(data)
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


class SharedView(PortalView):
    access = ANYONE
    http_method_names = ["get", "head", "post", "put", "patch", "delete", "options"]
    # The page counts against the share throttle on every request; the requests it
    # makes (charts, status, files) only when their token names no live link.
    counts_every_request = False
    # How a 429 is answered: JSON for the chart data, an HTML page otherwise.
    answers_json = False

    def http_method_not_allowed(self, request, *args, **kwargs) -> HttpResponse:
        raise PermissionDenied("A share link shows a run read-only.")

    def post(self, request, *args, **kwargs) -> HttpResponse:
        raise PermissionDenied("A share link shows a run read-only.")

    put = patch = delete = post

    def link(self, token: str) -> ShareLink:
        try:
            return share_link_check(token=token)
        except NotFound:
            self.count_guess()
            raise Http404("share link not found") from None

    def count_guess(self) -> None:
        """Count a token that names no live link against the share throttle (the page
        has counted every request already)."""
        if not self.counts_every_request:
            share_request_wait(self.request, count=True)

    def too_many(self, request, wait: int, message: str) -> HttpResponse:
        if self.answers_json:
            error = {"error": {"code": "throttled", "message": message, "field": None}}
            response = _json(error, status=429)
        else:
            response = render(request, "portal/too_many.html", {"message": message}, status=429)
        response["Retry-After"] = str(wait)
        return response

    def run_link(self, token: str) -> ShareLink:
        """The live link, when it shows a run (a comparison's link is a 404 here)."""
        link = self.link(token)
        if link.run is None:
            raise Http404("share link not found")
        return link

    def dispatch(self, request, *args, **kwargs) -> HttpResponseBase:
        refused = share_request_wait(request, count=self.counts_every_request)
        response: HttpResponseBase
        if refused is not None:
            response = self.too_many(request, *refused)
        else:
            response = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        response["X-Robots-Tag"] = "noindex"
        return response


class SharedRunView(SharedView):
    counts_every_request = True

    def get(self, request, token: str) -> HttpResponse:
        try:
            link = share_link_open(token=token, request=request)
        except NotFound:
            raise Http404("share link not found") from None
        if link.comparison is not None:
            return self.comparison_page(request, token, link, link.comparison)
        return render(request, "portal/shared_run.html", shared_run_context(link, token))

    @draws_webgl
    def comparison_page(
        self, request, token: str, link: ShareLink, comparison: SavedComparison
    ) -> HttpResponse:
        runs = comparison_runs(comparison)
        context = {
            "project": comparison.project,
            "comparison": comparison,
            "link": link,
            "missing": len(comparison.run_ids) - len(runs),
            "shown": SHARE_SHOWN_COMPARISON,
        }
        if len(runs) < MIN_RUNS:
            context["error"] = too_few_message(len(runs), len(comparison.run_ids))
        else:
            history_url = reverse(
                "portal:shared-comparison-history",
                kwargs={"token": token, "run_id": RUN_PLACEHOLDER},
            )
            context.update(
                compare_context(
                    project=comparison.project, runs=runs, history_url=history_url, links=False
                )
            )
        return render(request, "portal/shared_comparison.html", context)


class SharedStatusView(SharedView):
    def get(self, request, token: str) -> HttpResponse:
        run = shared_run(self.run_link(token))
        context = {
            "run": run,
            "duration": facts.run_duration(run.started_at, run.ended_at, timezone.now()),
            "oob": True,
            "links": shared_links(token, include_artifacts=False),
        }
        response = render(request, "portal/run/status.html", context)
        if run.status != RunStatus.RUNNING:
            response.status_code = HTMX_STOP_POLLING
        return response


class SharedMetricsView(SharedView):
    answers_json = True

    def get(self, request, token: str) -> HttpResponse:
        return _json(metric_keys_answer(run=shared_run(self.run_link(token))))


class SharedHistoryView(SharedView):
    answers_json = True

    def get(self, request, token: str) -> HttpResponse:
        run = shared_run(self.run_link(token))
        try:
            answer = metric_history_answer(run=run, params=request.GET, path=request.path)
        except KirokuError as exc:
            return _json(exc.as_dict(), status=exc.status)
        return _json(answer)


class SharedComparisonHistoryView(SharedView):
    """A run's metric history, for a comparison's link and one of its live runs only."""

    answers_json = True

    def get(self, request, token: str, run_id: str) -> HttpResponse:
        link = self.link(token)
        comparison = link.comparison
        if comparison is None or run_id not in comparison.run_ids:
            raise Http404("run not found")
        run = runs_in_project(project=comparison.project, public_ids=[run_id]).get(run_id)
        if run is None:
            raise Http404("run not found")
        try:
            answer = metric_history_answer(run=run, params=request.GET, path=request.path)
        except KirokuError as exc:
            return _json(exc.as_dict(), status=exc.status)
        return _json(answer)


class SharedArtifactsView(SharedView):
    def get(self, request, token: str) -> HttpResponse:
        link = self.run_link(token)
        if not link.include_artifacts:
            raise Http404("this link does not share the run's files")
        context = {
            **folder_context(shared_run(link), request.GET.get("path", "")),
            "links": shared_links(token, include_artifacts=True),
        }
        return render(request, "portal/run/artifact_folder.html", context)


class SharedDownloadView(SharedView):
    def get(self, request, token: str, artifact_id: str) -> HttpResponse:
        link = self.run_link(token)
        if link.run is None or not link.include_artifacts:
            raise Http404("this link does not share the run's files")
        try:
            artifact = artifact_get_in_run(run=link.run, artifact_id=artifact_id)
        except NotFound:
            raise Http404("artifact not found") from None
        url = artifact_download_url(
            principal=Principal.for_share_link(link, request),
            artifact=artifact,
            inline=request.GET.get("inline") == "true",
            base_url=request.build_absolute_uri("/"),
            shared_until=link.expires_at,
        )
        return HttpResponseRedirect(url)
