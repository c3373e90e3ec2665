from django.urls import path

from apps.projects.api.audit import ProjectAuditApi, ProjectAuditExportApi
from apps.projects.api.projects import (
    MemberDetailApi,
    MemberListApi,
    ProjectDetailApi,
    ProjectListApi,
    ProjectRestoreApi,
)

urlpatterns = [
    path("projects", ProjectListApi.as_view(), name="projects"),
    path("projects/<str:slug>", ProjectDetailApi.as_view(), name="project"),
    path("projects/<str:slug>/restore", ProjectRestoreApi.as_view(), name="project-restore"),
    path("projects/<str:slug>/members", MemberListApi.as_view(), name="members"),
    path("projects/<str:slug>/members/<str:username>", MemberDetailApi.as_view(), name="member"),
    path("projects/<str:slug>/audit", ProjectAuditApi.as_view(), name="project-audit"),
    path(
        "projects/<str:slug>/audit/export",
        ProjectAuditExportApi.as_view(),
        name="project-audit-export",
    ),
]
