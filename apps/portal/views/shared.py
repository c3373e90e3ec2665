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
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.artifacts.selectors import artifact_get_in_run
from apps.artifacts.services import artifact_download_url
from apps.collab.models import ShareLink
from apps.collab.services import share_link_check, share_link_open
from apps.core.errors import KirokuError, NotFound
from apps.core.renderers import StrictJSONRenderer
from apps.portal.views.base import ANYONE, PortalView
from apps.portal.views.compare import MIN_RUNS, RUN_PLACEHOLDER, compare_context, draws_webgl
from apps.portal.views.comparisons import comparison_runs, too_few_message
from apps.portal.views.run import facts
from apps.portal.views.run.artifacts import folder_context
from apps.portal.views.run.links import shared_links
from apps.portal.views.run.page import HTMX_STOP_POLLING, run_context
from apps.runs.history import metric_history_answer, metric_keys_answer
from apps.runs.models import RunStatus
from apps.runs.selectors import run_list_for_project


def _json(data, status: int = 200) -> HttpResponse:
    body = StrictJSONRenderer().render(data)
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


class SharedView(PortalView):
    access = ANYONE
    http_method_names = ["get", "head", "post", "put", "patch", "delete", "options"]

    def http_method_not_allowed(self, request, *args, **kwargs) -> HttpResponse:
        raise PermissionDenied("A share link shows a run read-only.")

    def post(self, request, *args, **kwargs) -> HttpResponse:
        raise PermissionDenied("A share link shows a run read-only.")

    put = patch = delete = post

    def link(self, token: str) -> ShareLink:
        try:
            return share_link_check(token=token)
        except NotFound:
            raise Http404("share link not found") from None

    def run_link(self, token: str) -> ShareLink:
        """The live link, when it shows a run (a comparison's link is a 404 here)."""
        link = self.link(token)
        if link.run is None:
            raise Http404("share link not found")
        return link

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        response = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        response["X-Robots-Tag"] = "noindex"
        return response


class SharedRunView(SharedView):
    def get(self, request, token: str) -> HttpResponse:
        try:
            link = share_link_open(token=token, request=request)
        except NotFound:
            raise Http404("share link not found") from None
        if link.comparison is not None:
            return self.comparison_page(request, token, link)
        context = {
            **run_context(link.run),
            "project": link.run.project,
            "link": link,
            "can_edit": False,
            "links": shared_links(token, include_artifacts=link.include_artifacts),
        }
        return render(request, "portal/shared_run.html", context)

    @draws_webgl
    def comparison_page(self, request, token: str, link: ShareLink) -> HttpResponse:
        comparison = link.comparison
        runs = comparison_runs(comparison)
        context = {
            "project": comparison.project,
            "comparison": comparison,
            "link": link,
            "missing": len(comparison.run_ids) - len(runs),
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
        run = self.run_link(token).run
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
    def get(self, request, token: str) -> HttpResponse:
        return _json(metric_keys_answer(run=self.run_link(token).run))


class SharedHistoryView(SharedView):
    def get(self, request, token: str) -> HttpResponse:
        run = self.run_link(token).run
        try:
            answer = metric_history_answer(run=run, params=request.GET, path=request.path)
        except KirokuError as exc:
            return _json(exc.as_dict(), status=exc.status)
        return _json(answer)


class SharedComparisonHistoryView(SharedView):
    """A run's metric history, for a comparison's link and one of its live runs only."""

    def get(self, request, token: str, run_id: str) -> HttpResponse:
        link = self.link(token)
        comparison = link.comparison
        if comparison is None or run_id not in comparison.run_ids:
            raise Http404("run not found")
        run = run_list_for_project(project=comparison.project).filter(public_id=run_id).first()
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
            **folder_context(link.run, request.GET.get("path", "")),
            "links": shared_links(token, include_artifacts=True),
        }
        return render(request, "portal/run/artifact_folder.html", context)


class SharedDownloadView(SharedView):
    def get(self, request, token: str, artifact_id: str) -> HttpResponse:
        link = self.run_link(token)
        if not link.include_artifacts:
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
