"""Operational routes outside the API. ``/healthz`` and ``/readyz`` are answered by
``apps.core.health.HealthProbeMiddleware`` before URL routing (see there)."""

from django.urls import path

from apps.core.metrics import metrics_view

urlpatterns = [
    # Token holders and loopback callers only; anyone else gets the ordinary 404.
    path("metrics", metrics_view, name="metrics"),
]
