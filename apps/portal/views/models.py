"""The model registry in the portal: a project's models, one model's page (versions,
aliases, lineage, promotion requests) and "Register as model…" from a run's artifacts.

Every form posts to its page with an ``action`` and calls the same validation and
service as the API (apps.registry). A refusal, Forbidden included (a member moving a
protected alias), is a message on the page it came from, never an error page: the
page is read-only for whoever lacks the role, and the message says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.core.errors import KirokuError
from apps.core.ids import integer_parse
from apps.core.markdown import markdown_render
from apps.portal.views.base import PortalView
from apps.portal.views.run.page import run_in_project
from apps.projects.models import Role
from apps.registry import selectors, services
from apps.registry.models import ModelVersion, PromotionStatus, RegisteredModel
from apps.registry.validation import (
    alias_clean,
    alias_protect_clean,
    alias_set_clean,
    decision_clean,
    model_name_clean,
    promotion_clean,
    version_create_clean,
    version_update_clean,
)
from apps.runs.selectors import run_metric_last_rows

# The versions table shows the newest this many; the API pages through the rest.
VERSIONS_SHOWN = 100
# Metric columns when the project names no primary metrics: the runs' first few keys.
METRIC_COLUMNS = 3


def _number(value: str | None) -> Any:
    """A version number typed in a form, as the API's JSON would carry it (an int when
    it is one; the text otherwise, which the validation then refuses by name)."""
    parsed = integer_parse(value or "")
    return parsed if parsed is not None else value


class ModelListView(PortalView):
    """The project's models: their aliases as badges and their newest version."""

    access = Role.VIEWER

    def get(self, request, slug: str) -> HttpResponse:
        models = selectors.model_list_for_project(
            principal=self.principal, project=self.project
        ).order_by("name")
        context = {"project": self.project, "models": models, "role": self.role()}
        return render(request, "portal/models.html", context)


def _metric_columns(project_keys: list[str], rows: list[tuple[int, str, float | None]]) -> list:
    if project_keys:
        return list(project_keys)
    return sorted({key for _, key, _ in rows})[:METRIC_COLUMNS]


class ModelPageView(PortalView):
    """One model: its versions with their runs' key metrics, its aliases, one version's
    lineage, its promotion requests and the forms that change them."""

    access = Role.VIEWER

    def _model(self, name: str) -> RegisteredModel:
        return selectors.model_get(principal=self.principal, project=self.project, name=name)

    def _back(self, model: RegisteredModel, version: int | None = None) -> HttpResponse:
        url = reverse("portal:model", kwargs={"slug": self.project.slug, "name": model.name})
        return redirect(f"{url}?version={version}" if version else url)

    def get(self, request, slug: str, name: str) -> HttpResponse:
        model = self._model(name)
        versions = list(
            selectors.version_list(model=model, archived=True).order_by("-number")[:VERSIONS_SHOWN]
        )
        rows = list(run_metric_last_rows(runs=[v.run for v in versions]))
        keys = _metric_columns(list(self.project.primary_metrics or []), rows)
        last = {(run_id, key): value for run_id, key, value in rows}
        for version in versions:
            version.metric_cells = [last.get((version.run_id, key)) for key in keys]
        shown = self._shown_version(model, versions, request.GET.get("version"))
        requests = sorted(
            selectors.promotion_list(model=model, status=None).order_by("-created_at"),
            key=lambda r: r.status != PromotionStatus.OPEN,
        )
        role = self.role() or Role.VIEWER
        context = {
            "project": self.project,
            "model": model,
            "description_html": markdown_render(model.description),
            "versions": versions,
            "metric_keys": keys,
            "aliases": selectors.alias_list(model=model),
            "shown": shown,
            "lineage": selectors.version_lineage(version=shown) if shown else None,
            "requests": requests,
            "role": role,
            "can_edit": role >= Role.MEMBER,
            "is_admin": role >= Role.ADMIN,
            "live_numbers": [v.number for v in versions if v.archived_at is None],
        }
        return render(request, "portal/model.html", context)

    def _shown_version(
        self, model: RegisteredModel, versions: list[ModelVersion], wanted: str | None
    ) -> ModelVersion | None:
        """The version whose lineage the page shows: ``?version=``, else the newest."""
        if wanted:
            try:
                return selectors.version_get(model=model, number=wanted)
            except KirokuError:
                raise Http404("version not found") from None
        return versions[0] if versions else None

    def post(self, request, slug: str, name: str) -> HttpResponse:
        model = self._model(name)
        action = request.POST.get("action", "")
        handler = self.HANDLERS.get(action)
        if handler is None:
            messages.error(request, f"Unknown action '{action}'.")
            return self._back(model)
        try:
            return handler(self, request, model)
        except KirokuError as exc:
            messages.error(request, exc.message)
            return self._back(model)

    def _alias_move(self, request, model: RegisteredModel) -> HttpResponse:
        alias = alias_clean(request.POST.get("alias", "").strip())
        data = alias_set_clean(
            {
                "version": _number(request.POST.get("version")),
                "reason": request.POST.get("reason", ""),
            }
        )
        services.alias_set(
            principal=self.principal,
            model=model,
            alias=alias,
            number=data.version,
            reason=data.reason,
        )
        messages.success(request, f"@{alias} now points at version {data.version}.")
        return self._back(model)

    def _promotion_request(self, request, model: RegisteredModel) -> HttpResponse:
        data = promotion_clean(
            {
                "version": _number(request.POST.get("version")),
                "alias": request.POST.get("alias", "").strip(),
                "reason": request.POST.get("reason", ""),
            }
        )
        services.promotion_request(principal=self.principal, model=model, data=data)
        messages.success(
            request, f"Asked an admin to point @{data.alias} at version {data.version}."
        )
        return self._back(model)

    def _promotion_decide(self, request, model: RegisteredModel) -> HttpResponse:
        promotion = selectors.promotion_get(model=model, request_id=request.POST.get("request", ""))
        data = decision_clean(
            {
                "approve": request.POST.get("decision") == "approve",
                "comment": request.POST.get("comment", ""),
            }
        )
        services.promotion_decide(principal=self.principal, request=promotion, data=data)
        if data.approve:
            messages.success(
                request,
                f"Approved: @{promotion.alias} now points at version {promotion.version.number}.",
            )
        else:
            messages.success(request, f"Rejected the request for @{promotion.alias}.")
        return self._back(model)

    def _alias_protect(self, request, model: RegisteredModel) -> HttpResponse:
        alias = alias_clean(request.POST.get("alias", "").strip())
        protected = alias_protect_clean({"protected": request.POST.get("protected") == "on"})
        services.alias_protect(
            principal=self.principal, model=model, alias=alias, protected=protected
        )
        state = "protected" if protected else "no longer protected"
        messages.success(request, f"@{alias} is {state}.")
        return self._back(model)

    def _version_archive(self, request, model: RegisteredModel) -> HttpResponse:
        version = selectors.version_get(model=model, number=request.POST.get("version", ""))
        archived = request.POST.get("archived") == "on"
        data = version_update_clean({"archived": archived})
        services.version_update(principal=self.principal, version=version, data=data)
        state = "archived" if archived else "restored"
        messages.success(request, f"Version {version.number} {state}.")
        return self._back(model)

    HANDLERS: dict[str, Callable[[ModelPageView, Any, RegisteredModel], HttpResponse]] = {
        "alias_move": _alias_move,
        "promotion_request": _promotion_request,
        "promotion_decide": _promotion_decide,
        "alias_protect": _alias_protect,
        "version_archive": _version_archive,
    }


class RunRegisterModelView(PortalView):
    """ "Register as model…" from a run's artifacts browser: the folder becomes the next
    version of the named model (created when new), then the model's page opens. A
    refusal is a message on the run page."""

    access = Role.MEMBER
    http_method_names = ["post"]

    def post(self, request, slug: str, run_id: str) -> HttpResponse:
        run = run_in_project(self, run_id, needed=Role.MEMBER)
        try:
            name = model_name_clean(request.POST.get("name", "").strip())
            alias = request.POST.get("alias", "").strip()
            data = version_create_clean(
                {
                    "run_id": run.public_id,
                    "path": request.POST.get("path", "").strip().strip("/"),
                    "aliases": [alias] if alias else [],
                }
            )
            version = services.version_create(
                principal=self.principal, project=self.project, name=name, data=data
            )
        except KirokuError as exc:
            messages.error(request, f"Not registered: {exc.message}")
            return redirect(
                reverse("portal:run", kwargs={"slug": slug, "run_id": run.public_id}) + "#artifacts"
            )
        messages.success(request, f"Registered {name} version {version.number}.")
        url = reverse("portal:model", kwargs={"slug": slug, "name": name})
        return redirect(f"{url}?version={version.number}")
