"""The model registry over HTTP (README "Model registry"): thin views that parse with
apps.registry.validation, call a service or selector and render with
apps.registry.output. Viewers read, members register, admins protect and decide."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.pagination import Listing, list_page
from apps.core.schema import Page
from apps.core.views import KirokuApi, query_bool
from apps.projects.models import Project
from apps.projects.selectors import project_get_for_principal
from apps.registry import examples, selectors, services, validation
from apps.registry.models import RegisteredModel
from apps.registry.output import (
    AliasOut,
    ModelOut,
    PromotionOut,
    VersionFilesOut,
    VersionOut,
    alias_out,
    model_out,
    promotion_out,
    version_files_out,
    version_out,
)

MODELS = Listing("models", ("name", "pk"))
VERSIONS = Listing("model-versions", ("-number",))
PROMOTIONS = Listing("promotions", ("-created_at", "-pk"))
TAKEN = OpenApiResponse(description="a model with this name exists")
STATE = OpenApiResponse(description="the version is archived, or aliases point at it")


class _RegistryApi(KirokuApi):
    def project(self, slug: str) -> Project:
        return project_get_for_principal(principal=self.principal, slug=slug)

    def model(self, slug: str, name: str) -> RegisteredModel:
        return selectors.model_get(principal=self.principal, project=self.project(slug), name=name)


class ModelListApi(_RegistryApi):
    @extend_schema(
        operation_id="models_list",
        examples=examples.page("models", examples.MODEL),
        parameters=MODELS.parameters(),
        responses={200: Page[ModelOut]},
    )
    def get(self, request: Request, slug: str) -> Response:
        models = selectors.model_list_for_project(
            principal=self.principal, project=self.project(slug)
        )
        page, next_cursor = list_page(request, models, MODELS)
        return Response({"results": [model_out(m) for m in page], "next": next_cursor})

    @extend_schema(
        operation_id="models_create",
        examples=examples.answer("created", examples.MODEL),
        request=dict,
        responses={201: ModelOut, 409: TAKEN},
    )
    def post(self, request: Request, slug: str) -> Response:
        data = validation.model_create_clean(request.data)
        model = services.model_create(
            principal=self.principal, project=self.project(slug), data=data
        )
        model = selectors.model_get(
            principal=self.principal, project=model.project, name=model.name
        )
        return Response(model_out(model), status=status.HTTP_201_CREATED)


class ModelDetailApi(_RegistryApi):
    @extend_schema(
        operation_id="models_read",
        examples=examples.answer("model", examples.MODEL),
        responses={200: ModelOut},
    )
    def get(self, request: Request, slug: str, name: str) -> Response:
        return Response(model_out(self.model(slug, name)))

    @extend_schema(
        operation_id="models_update",
        examples=examples.answer("updated", examples.MODEL),
        request=dict,
        responses={200: ModelOut},
    )
    def patch(self, request: Request, slug: str, name: str) -> Response:
        data = validation.model_update_clean(request.data)
        model = services.model_update(
            principal=self.principal, model=self.model(slug, name), data=data
        )
        return Response(model_out(model))

    @extend_schema(operation_id="models_delete", responses={204: None})
    def delete(self, request: Request, slug: str, name: str) -> Response:
        services.model_delete(principal=self.principal, model=self.model(slug, name))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionListApi(_RegistryApi):
    @extend_schema(
        operation_id="model_versions_list",
        examples=examples.page("versions", examples.VERSION),
        parameters=[
            *VERSIONS.parameters(),
            OpenApiParameter("archived", bool, description="include archived versions"),
        ],
        responses={200: Page[VersionOut]},
    )
    def get(self, request: Request, slug: str, name: str) -> Response:
        versions = selectors.version_list(
            model=self.model(slug, name), archived=query_bool(request, "archived")
        )
        page, next_cursor = list_page(request, versions, VERSIONS)
        return Response({"results": [version_out(v) for v in page], "next": next_cursor})

    @extend_schema(
        operation_id="model_versions_create",
        examples=examples.answer("registered", examples.VERSION),
        description="Register the run's artifacts under `path` as the model's next version "
        "(the model is created if it does not exist) and point `aliases` at it.",
        request=dict,
        responses={201: VersionOut},
    )
    def post(self, request: Request, slug: str, name: str) -> Response:
        name = validation.model_name_clean(name)
        data = validation.version_create_clean(request.data)
        version = services.version_create(
            principal=self.principal, project=self.project(slug), name=name, data=data
        )
        version = selectors.version_get(model=version.model, number=version.number)
        return Response(version_out(version), status=status.HTTP_201_CREATED)


class VersionDetailApi(_RegistryApi):
    @extend_schema(
        operation_id="model_versions_read",
        examples=examples.answer("version", examples.VERSION_WITH_LINEAGE),
        responses={200: VersionOut},
    )
    def get(self, request: Request, slug: str, name: str, number: str) -> Response:
        version = selectors.version_get(model=self.model(slug, name), number=number)
        return Response(version_out(version, selectors.version_lineage(version=version)))

    @extend_schema(
        operation_id="model_versions_update",
        examples=examples.answer("updated", examples.VERSION),
        request=dict,
        responses={200: VersionOut, 409: STATE},
    )
    def patch(self, request: Request, slug: str, name: str, number: str) -> Response:
        data = validation.version_update_clean(request.data)
        version = selectors.version_get(model=self.model(slug, name), number=number)
        version = services.version_update(principal=self.principal, version=version, data=data)
        return Response(
            version_out(selectors.version_get(model=version.model, number=version.number))
        )


class VersionFilesApi(_RegistryApi):
    @extend_schema(
        operation_id="model_versions_files",
        examples=examples.answer("files", examples.FILES),
        description="The version's manifest and a short-lived download URL per file "
        "(the bytes come from the store, never through this server's API).",
        responses={200: VersionFilesOut, 409: OpenApiResponse(description="a file is gone")},
    )
    def get(self, request: Request, slug: str, name: str, number: str) -> Response:
        version = selectors.version_get(model=self.model(slug, name), number=number)
        files = services.version_files(
            principal=self.principal, version=version, base_url=request.build_absolute_uri("/")
        )
        return Response(version_files_out(version, files))


class VersionResolveApi(_RegistryApi):
    @extend_schema(
        operation_id="model_versions_resolve",
        examples=examples.answer("resolved", examples.VERSION_WITH_LINEAGE),
        parameters=[
            OpenApiParameter(
                "ref", str, required=True, description="`name@alias`, `name/3` or `name`"
            )
        ],
        responses={200: VersionOut},
    )
    def get(self, request: Request, slug: str) -> Response:
        version = selectors.version_resolve(
            principal=self.principal,
            project=self.project(slug),
            ref=request.query_params.get("ref", ""),
        )
        return Response(version_out(version, selectors.version_lineage(version=version)))


class AliasListApi(_RegistryApi):
    @extend_schema(
        operation_id="model_aliases_list",
        examples=examples.page("aliases", examples.ALIAS),
        responses={200: Page[AliasOut]},
    )
    def get(self, request: Request, slug: str, name: str) -> Response:
        aliases = selectors.alias_list(model=self.model(slug, name))
        return Response({"results": [alias_out(a) for a in aliases], "next": None})


class AliasDetailApi(_RegistryApi):
    @extend_schema(
        operation_id="model_aliases_set",
        examples=examples.answer("moved", examples.ALIAS),
        description="Point the alias at a version (members; admins for a protected alias, "
        "which members reach through a promotion request). Audited with the reason.",
        request=dict,
        responses={200: AliasOut, 409: STATE},
    )
    def put(self, request: Request, slug: str, name: str, alias: str) -> Response:
        alias = validation.alias_clean(alias)
        data = validation.alias_set_clean(request.data)
        row = services.alias_set(
            principal=self.principal,
            model=self.model(slug, name),
            alias=alias,
            number=data.version,
            reason=data.reason,
        )
        return Response(alias_out(row))

    @extend_schema(
        operation_id="model_aliases_protect",
        examples=examples.answer("protected", examples.ALIAS),
        description="Protect or unprotect the alias (admins).",
        request=dict,
        responses={200: AliasOut},
    )
    def patch(self, request: Request, slug: str, name: str, alias: str) -> Response:
        alias = validation.alias_clean(alias)
        protected = validation.alias_protect_clean(request.data)
        row = services.alias_protect(
            principal=self.principal, model=self.model(slug, name), alias=alias, protected=protected
        )
        return Response(alias_out(row))

    @extend_schema(
        operation_id="model_aliases_delete",
        parameters=[OpenApiParameter("reason", str, description="why, for the audit log")],
        responses={204: None},
    )
    def delete(self, request: Request, slug: str, name: str, alias: str) -> Response:
        services.alias_delete(
            principal=self.principal,
            model=self.model(slug, name),
            alias=validation.alias_clean(alias),
            reason=validation.reason_clean(request.query_params.get("reason")),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromotionListApi(_RegistryApi):
    @extend_schema(
        operation_id="model_promotions_list",
        examples=examples.page("requests", examples.PROMOTION),
        parameters=[
            *PROMOTIONS.parameters(),
            OpenApiParameter("status", str, enum=["open", "approved", "rejected"]),
        ],
        responses={200: Page[PromotionOut]},
    )
    def get(self, request: Request, slug: str, name: str) -> Response:
        requests = selectors.promotion_list(
            model=self.model(slug, name), status=request.query_params.get("status") or None
        )
        page, next_cursor = list_page(request, requests, PROMOTIONS)
        return Response({"results": [promotion_out(r) for r in page], "next": next_cursor})

    @extend_schema(
        operation_id="model_promotions_create",
        examples=examples.answer("requested", examples.PROMOTION),
        request=dict,
        responses={201: PromotionOut, 409: STATE},
    )
    def post(self, request: Request, slug: str, name: str) -> Response:
        data = validation.promotion_clean(request.data)
        created = services.promotion_request(
            principal=self.principal, model=self.model(slug, name), data=data
        )
        return Response(promotion_out(created), status=status.HTTP_201_CREATED)


class PromotionDetailApi(_RegistryApi):
    @extend_schema(
        operation_id="model_promotions_read",
        examples=examples.answer("request", examples.PROMOTION),
        responses={200: PromotionOut},
    )
    def get(self, request: Request, slug: str, name: str, request_id: str) -> Response:
        found = selectors.promotion_get(model=self.model(slug, name), request_id=request_id)
        return Response(promotion_out(found))


class PromotionDecisionApi(_RegistryApi):
    @extend_schema(
        operation_id="model_promotions_decide",
        examples=examples.answer(
            "decided",
            {
                **examples.PROMOTION,
                "status": "approved",
                "decided_by": "admin",
                "decided_at": "2026-01-04T00:00:00Z",
            },
        ),
        description="Approve (the alias moves) or reject an open request (admins).",
        request=dict,
        responses={200: PromotionOut, 409: OpenApiResponse(description="decided already")},
    )
    def post(self, request: Request, slug: str, name: str, request_id: str) -> Response:
        data = validation.decision_clean(request.data)
        found = selectors.promotion_get(model=self.model(slug, name), request_id=request_id)
        decided = services.promotion_decide(principal=self.principal, request=found, data=data)
        return Response(promotion_out(decided))
