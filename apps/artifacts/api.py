from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.artifacts import examples, selectors, services
from apps.artifacts.models import UploadMethod
from apps.artifacts.output import (
    ArtifactCreatedOut,
    ArtifactListingOut,
    ArtifactOut,
    ArtifactPartsOut,
    artifact_listing_out,
    artifact_out,
    parts_out,
    upload_out,
)
from apps.artifacts.validation import (
    artifact_create_clean,
    complete_clean,
    parts_request_clean,
)
from apps.core.errors import Invalid
from apps.core.views import KirokuApi, query_bool, query_int
from apps.projects.models import Role
from apps.runs.selectors import run_get_for_principal

MAX_LISTING_PAGE = 10_000


def _base_url(request: Request) -> str:
    return request.build_absolute_uri("/")


class RunArtifactsApi(KirokuApi):
    """Declare a run's files (the bytes go straight to the store) and list them."""

    @extend_schema(
        operation_id="artifacts_create",
        request=dict,
        responses={
            201: ArtifactCreatedOut,
            413: OpenApiResponse(
                description="The body is larger than 4 MiB, or the file would take the "
                "project past its artifact quota (`error.field` is `size`)."
            ),
        },
        examples=[examples.CREATE_REQUEST, examples.CREATE_RESPONSE],
        description="Declare a file and get where to upload it: one presigned PUT, or "
        "above the multipart threshold a part size and (with `parts_sha256`, or later "
        "from POST /artifacts/{id}/parts) a presigned PUT per part. Send the `headers` "
        "given, verbatim. Then POST /artifacts/{id}/complete. A path already used makes "
        "a new version.",
    )
    def post(self, request: Request, run_id: str) -> Response:
        run = run_get_for_principal(principal=self.principal, run_id=run_id, needed=Role.MEMBER)
        try:
            body = request.data
        except Invalid as exc:
            # The parser refuses NUL anywhere; in the path it is a path error like the rest.
            if exc.field == "path":
                raise Invalid(exc.message, field="path", code="invalid_path") from None
            raise
        data = artifact_create_clean(body)
        artifact, plan = services.artifact_create(
            principal=self.principal, run=run, data=data, base_url=_base_url(request)
        )
        return Response(
            {**artifact_out(artifact), "upload": upload_out(plan)},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        operation_id="artifacts_list",
        parameters=[
            OpenApiParameter("path", str, description="a folder (default: the root)"),
            OpenApiParameter("recursive", bool, description="every file below, in pages"),
            OpenApiParameter("page_size", int, description="1 to 10000 (recursive only)"),
            OpenApiParameter("cursor", str, description="the `next` of the previous page"),
        ],
        responses={200: ArtifactListingOut},
        examples=[examples.LISTING_RESPONSE],
        description="A folder's subfolders and files (`entries`), or with `recursive` every "
        "file below it, a page at a time. Unlike the other lists this is not a "
        "`{results, next}` page: a folder is answered with its `path` and `entries` of "
        "two kinds.",
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get_for_principal(principal=self.principal, run_id=run_id)
        listing = selectors.artifact_list(
            run=run,
            path=request.query_params.get("path", "").strip("/"),
            recursive=query_bool(request, "recursive"),
            page_size=query_int(
                request, "page_size", default=1000, minimum=1, maximum=MAX_LISTING_PAGE
            ),
            cursor=request.query_params.get("cursor") or None,
        )
        return Response(artifact_listing_out(listing))


class ArtifactDetailApi(KirokuApi):
    @extend_schema(
        operation_id="artifacts_read",
        responses={200: ArtifactOut},
        examples=[examples.ARTIFACT_RESPONSE],
    )
    def get(self, request: Request, artifact_id: str) -> Response:
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id
        )
        return Response(artifact_out(artifact))

    @extend_schema(
        operation_id="artifacts_delete",
        responses={204: None},
        description="Delete this version (admins); its object is removed in the background.",
    )
    def delete(self, request: Request, artifact_id: str) -> Response:
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id, needed=Role.ADMIN
        )
        services.artifact_delete(principal=self.principal, artifact=artifact)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArtifactPartsApi(KirokuApi):
    @extend_schema(
        operation_id="artifacts_parts",
        request=dict,
        responses={
            200: ArtifactPartsOut,
            409: OpenApiResponse(description="The artifact is complete already."),
        },
        examples=[examples.PARTS_REQUEST, examples.PARTS_RESPONSE],
        description="Declare the SHA-256 of every part of a multipart upload and get "
        "presigned PUTs for them (or for `numbers` only). Call again for fresh URLs to "
        "resume an interrupted upload.",
    )
    def post(self, request: Request, artifact_id: str) -> Response:
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id, needed=Role.MEMBER
        )
        if artifact.method != UploadMethod.MULTIPART:
            raise Invalid("this artifact is uploaded with a single PUT, not in parts")
        digests, numbers = parts_request_clean(request.data, part_count=artifact.part_count)
        plan = services.artifact_part_transfers(
            principal=self.principal,
            artifact=artifact,
            parts_sha256=digests,
            numbers=numbers,
            base_url=_base_url(request),
        )
        return Response({"parts": parts_out(plan.parts or []), "expires_at": plan.expires_at})


class ArtifactCompleteApi(KirokuApi):
    @extend_schema(
        operation_id="artifacts_complete",
        request=dict,
        responses={200: ArtifactOut},
        examples=[examples.COMPLETE_REQUEST, examples.ARTIFACT_RESPONSE],
        description="Verify the upload (size and SHA-256, per part for multipart) and "
        "mark the artifact complete. Safe to retry. 400 leaves it pending.",
    )
    def post(self, request: Request, artifact_id: str) -> Response:
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id, needed=Role.MEMBER
        )
        parts = complete_clean(
            request.data,
            multipart=artifact.method == UploadMethod.MULTIPART,
            part_count=artifact.part_count,
        )
        artifact = services.artifact_complete(
            principal=self.principal, artifact=artifact, parts=parts
        )
        return Response(artifact_out(artifact))


class ArtifactDownloadApi(KirokuApi):
    @extend_schema(
        operation_id="artifacts_download",
        parameters=[
            OpenApiParameter(
                "inline",
                bool,
                description="serve images, text, CSV and JSON inline (for previews)",
            ),
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[302],
                description="the short-lived URL that serves the bytes",
            ),
        ],
        responses={
            302: OpenApiResponse(description="Found: the bytes are at `Location`."),
            409: OpenApiResponse(description="The upload is not complete yet."),
        },
        description="Redirects to a short-lived URL that serves the bytes.",
    )
    def get(self, request: Request, artifact_id: str) -> HttpResponseRedirect:
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id
        )
        url = services.artifact_download_url(
            principal=self.principal,
            artifact=artifact,
            inline=query_bool(request, "inline"),
            base_url=_base_url(request),
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response
