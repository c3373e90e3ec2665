"""Reads of the model registry. Every read checks that the principal may read the
project (NotFound otherwise, the same for "missing" and "not yours")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.accounts.principal import Principal
from apps.ci.selectors import runs_with_ci_verdict
from apps.core.errors import Invalid, not_found
from apps.core.ids import integer_parse
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
)
from apps.runs.models import Run
from apps.runs.selectors import run_detail

# ``resnet@champion``, ``resnet/3``, ``resnet@latest`` or ``resnet`` (its newest live
# version); a model name holds no "/".
_NUMBERED = re.compile(r"^(?P<name>[^/]+)/(?P<number>[0-9]{1,10})$")


def model_list_for_project(*, principal: Principal, project: Project) -> QuerySet[RegisteredModel]:
    """The project's live models with their aliases, for paging by name."""
    require_role(principal, project, Role.VIEWER)
    return (
        RegisteredModel.objects.filter(project=project, deleted_at__isnull=True)
        .select_related("created_by")
        .prefetch_related(_ALIASES)
    )


_ALIASES = Prefetch(
    "aliases", queryset=ModelAlias.objects.select_related("version").order_by("name")
)


def model_get(
    *, principal: Principal, project: Project, name: str, needed: Role = Role.VIEWER
) -> RegisteredModel:
    """The live model ``name`` of the project, or NotFound (Forbidden when readable but
    the role is below ``needed``)."""
    require_role(principal, project, needed)
    model = (
        RegisteredModel.objects.filter(project=project, name=name, deleted_at__isnull=True)
        .select_related("project", "created_by")
        .prefetch_related(_ALIASES)
        .first()
    )
    if model is None:
        raise not_found("model")
    return model


def version_list(*, model: RegisteredModel, archived: bool) -> QuerySet[ModelVersion]:
    """The model's versions with their runs and aliases, archived ones only when
    ``archived``; the caller has read the model through ``model_get``."""
    versions = ModelVersion.objects.filter(model=model).select_related("model", "run", "created_by")
    if not archived:
        versions = versions.filter(archived_at__isnull=True)
    return versions.prefetch_related("aliases")


def version_get(*, model: RegisteredModel, number: str | int) -> ModelVersion:
    """Version ``number`` of the model (a positive integer, as text or not), or
    NotFound."""
    parsed = number if isinstance(number, int) else integer_parse(number)
    version = (
        ModelVersion.objects.filter(model=model, number=parsed)
        .select_related("model__project", "run__project", "created_by")
        .prefetch_related("aliases")
        .first()
        if parsed is not None and parsed > 0
        else None
    )
    if version is None:
        raise not_found("version")
    return version


def version_resolve(*, principal: Principal, project: Project, ref: str) -> ModelVersion:
    """The version a reference names: ``name@alias``, ``name/3``, ``name@latest`` or
    ``name`` (the newest version that is not archived). NotFound naming what is
    missing; Invalid (field ``ref``) for an empty reference."""
    if not isinstance(ref, str) or not ref.strip():
        raise Invalid("ref names a version: name@alias, name/3 or name", field="ref")
    alias = None
    number = None
    if "@" in ref:
        name, alias = ref.rsplit("@", 1)
    elif (numbered := _NUMBERED.match(ref)) is not None:
        name, number = numbered["name"], int(numbered["number"])
    else:
        name = ref
    model = model_get(principal=principal, project=project, name=name)
    if number is None:
        numbers = ModelVersion.objects.filter(model=model).order_by("-number")
        if alias is not None and alias != "latest":
            number = numbers.filter(aliases__name=alias).values_list("number", flat=True).first()
            if number is None:
                raise not_found("alias")
        else:
            newest = numbers.filter(archived_at__isnull=True)
            number = newest.values_list("number", flat=True).first()
    if number is None:
        raise not_found("version")
    return version_get(model=model, number=number)


def alias_list(*, model: RegisteredModel) -> list[ModelAlias]:
    return list(model.aliases.all())


def promotion_list(*, model: RegisteredModel, status: str | None) -> QuerySet[PromotionRequest]:
    """The model's promotion requests, open ones only when ``status`` is ``open``."""
    requests = PromotionRequest.objects.filter(model=model).select_related(
        "model", "version", "requested_by", "decided_by"
    )
    if status is not None:
        if status not in PromotionStatus.values:
            raise Invalid(
                f"status must be one of {', '.join(PromotionStatus.values)}", field="status"
            )
        requests = requests.filter(status=status)
    return requests


def promotion_get(*, model: RegisteredModel, request_id: str) -> PromotionRequest:
    pk = integer_parse(request_id)
    request = (
        promotion_list(model=model, status=None).filter(pk=pk).first() if pk is not None else None
    )
    if request is None:
        raise not_found("promotion request")
    return request


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: its run, with what it recorded."""

    run: Run
    params: dict[str, str]
    metrics: dict[str, Any]
    datasets: list[dict[str, Any]]
    ci_verdict: str | None


def version_lineage(*, version: ModelVersion) -> Lineage:
    """The source run's params, last metric values, datasets and CI verdict. Readable
    while the version is: the run cannot be deleted while a live model points at it
    (apps.registry.services.run_delete_guard)."""
    run = runs_with_ci_verdict(
        runs=Run.objects.filter(pk=version.run_id).select_related("project", "parent")
    ).get()
    detail = run_detail(run=run)
    return Lineage(
        run=run,
        params=detail.params,
        metrics={m["key"]: m["last"] for m in detail.metrics},
        datasets=[{"name": d.name, "uri": d.uri, "digest": d.digest} for d in detail.datasets],
        ci_verdict=run.ci_verdict,
    )
