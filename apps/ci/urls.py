from django.urls import path

from apps.ci.api import RunCiReportApi

urlpatterns = [
    path("runs/<str:run_id>/ci-report", RunCiReportApi.as_view(), name="run-ci-report"),
]
