from django.urls import path

from apps.audit.api import ProjectAuditApi, ProjectAuditExportApi

urlpatterns = [
    path("projects/<str:slug>/audit", ProjectAuditApi.as_view(), name="project-audit"),
    path(
        "projects/<str:slug>/audit/export",
        ProjectAuditExportApi.as_view(),
        name="project-audit-export",
    ),
]
