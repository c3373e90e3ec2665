from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.artifacts import examples, selectors, services
from apps.artifacts.models import UploadMethod
from apps.artifacts.output import (
    artifact_out,
    listing_entry_file,
    listing_entry_folder,
    parts_out,
    upload_out,
)
from apps.artifacts.validation import (
    artifact_create_clean,
    complete_clean,
    parts_request_clean,
)
from apps.core.errors import Invalid
from apps.core.views import KirokuApi, query_int
from apps.projects.models import Role
from apps.runs.selectors import run_get_for_principal

MAX_LISTING_PAGE = 10_000


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def _query_bool(request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in {"true", "false", "1", "0"}:
        raise Invalid(f"{name} must be true or false", field=name)
    return raw in {"true", "1"}


class RunArtifactsApi(KirokuApi):
    """Declare a run's files (the bytes go straight to the store) and list them."""

    @extend_schema(
        operation_id="artifacts_create",
        request=dict,
        responses={201: dict},
        examples=[examples.CREATE_REQUEST, examples.CREATE_RESPONSE],
        description="Declare a file and get where to upload it: one presigned PUT, or "
        "above the multipart threshold a part size and (with `parts_sha256`, or later "
        "from POST /artifacts/{id}/parts) a presigned PUT per part. Send the `headers` "
        "given, verbatim. Then POST /artifacts/{id}/complete. A path already used makes "
        "a new version.",
    )
    def post(self, request, run_id: str):
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
        responses={200: dict},
        examples=[examples.LISTING_RESPONSE],
    )
    def get(self, request, run_id: str):
        run = run_get_for_principal(principal=self.principal, run_id=run_id)
        listing = selectors.artifact_list(
            run=run,
            path=request.query_params.get("path", "").strip("/"),
            recursive=_query_bool(request, "recursive"),
            page_size=query_int(
                request, "page_size", default=1000, minimum=1, maximum=MAX_LISTING_PAGE
            ),
            cursor=request.query_params.get("cursor") or None,
        )
        for artifact in listing.files:
            artifact.run = run
        entries = [listing_entry_folder(*folder) for folder in listing.folders]
        entries += [listing_entry_file(artifact) for artifact in listing.files]
        return Response({"path": listing.path, "entries": entries, "next": listing.next_cursor})


class ArtifactDetailApi(KirokuApi):
    @extend_schema(
        operation_id="artifacts_read", responses={200: dict}, examples=[examples.ARTIFACT_RESPONSE]
    )
    def get(self, request, artifact_id: str):
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id
        )
        return Response(artifact_out(artifact))

    @extend_schema(
        operation_id="artifacts_delete",
        responses={204: None},
        description="Delete this version (admins); its object is removed in the background.",
    )
    def delete(self, request, artifact_id: str):
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id, needed=Role.ADMIN
        )
        services.artifact_delete(principal=self.principal, artifact=artifact)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArtifactPartsApi(KirokuApi):
    @extend_schema(
        operation_id="artifacts_parts",
        request=dict,
        responses={200: dict},
        examples=[examples.PARTS_REQUEST, examples.PARTS_RESPONSE],
        description="Declare the SHA-256 of every part of a multipart upload and get "
        "presigned PUTs for them (or for `numbers` only). Call again for fresh URLs to "
        "resume an interrupted upload.",
    )
    def post(self, request, artifact_id: str):
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
        responses={200: dict},
        examples=[examples.COMPLETE_REQUEST, examples.ARTIFACT_RESPONSE],
        description="Verify the upload (size and SHA-256, per part for multipart) and "
        "mark the artifact complete. Safe to retry. 400 leaves it pending.",
    )
    def post(self, request, artifact_id: str):
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
            )
        ],
        responses={302: dict},
        examples=[examples.DOWNLOAD_RESPONSE],
        description="Redirects to a short-lived URL that serves the bytes.",
    )
    def get(self, request, artifact_id: str):
        artifact = selectors.artifact_get_for_principal(
            principal=self.principal, artifact_id=artifact_id
        )
        url = services.artifact_download_url(
            principal=self.principal,
            artifact=artifact,
            inline=_query_bool(request, "inline"),
            base_url=_base_url(request),
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response
