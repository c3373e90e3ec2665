from django.urls import path

from apps.runs.api.compare import RunCompareApi
from apps.runs.api.ingest import RunLogBatchApi
from apps.runs.api.metrics import RunMetricHistoryApi, RunMetricsApi
from apps.runs.api.runs import (
    ProjectRunsApi,
    RunDetailApi,
    RunFinishApi,
    RunHeartbeatApi,
    RunRestoreApi,
    RunResumeApi,
)

urlpatterns = [
    path("projects/<str:slug>/runs", ProjectRunsApi.as_view(), name="project-runs"),
    path("runs/<str:run_id>", RunDetailApi.as_view(), name="run"),
    path("runs/<str:run_id>/restore", RunRestoreApi.as_view(), name="run-restore"),
    path("runs/<str:run_id>/finish", RunFinishApi.as_view(), name="run-finish"),
    path("runs/<str:run_id>/resume", RunResumeApi.as_view(), name="run-resume"),
    path("runs/<str:run_id>/heartbeat", RunHeartbeatApi.as_view(), name="run-heartbeat"),
    path("runs/<str:run_id>/log", RunLogBatchApi.as_view(), name="run-log"),
    path("runs/<str:run_id>/metrics", RunMetricsApi.as_view(), name="run-metrics"),
    path("runs/<str:run_id>/compare", RunCompareApi.as_view(), name="run-compare"),
    path(
        "runs/<str:run_id>/metrics/history",
        RunMetricHistoryApi.as_view(),
        name="run-metric-history",
    ),
]
