from django.urls import path

from apps.artifacts.api import (
    ArtifactCompleteApi,
    ArtifactDetailApi,
    ArtifactDownloadApi,
    ArtifactPartsApi,
    RunArtifactsApi,
)

urlpatterns = [
    path("runs/<str:run_id>/artifacts", RunArtifactsApi.as_view(), name="run-artifacts"),
    path("artifacts/<str:artifact_id>", ArtifactDetailApi.as_view(), name="artifact"),
    path("artifacts/<str:artifact_id>/parts", ArtifactPartsApi.as_view(), name="artifact-parts"),
    path(
        "artifacts/<str:artifact_id>/complete",
        ArtifactCompleteApi.as_view(),
        name="artifact-complete",
    ),
    path(
        "artifacts/<str:artifact_id>/download",
        ArtifactDownloadApi.as_view(),
        name="artifact-download",
    ),
]
