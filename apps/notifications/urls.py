from django.urls import path

from apps.notifications.api import (
    DestinationApi,
    DestinationTestApi,
    ProjectDeliveriesApi,
    ProjectDestinationsApi,
    ProjectRulesApi,
    RuleApi,
)

urlpatterns = [
    path(
        "projects/<str:slug>/destinations",
        ProjectDestinationsApi.as_view(),
        name="project-destinations",
    ),
    path("destinations/<str:destination_id>", DestinationApi.as_view(), name="destination"),
    path(
        "destinations/<str:destination_id>/test",
        DestinationTestApi.as_view(),
        name="destination-test",
    ),
    path("projects/<str:slug>/rules", ProjectRulesApi.as_view(), name="project-rules"),
    path("rules/<str:rule_id>", RuleApi.as_view(), name="rule"),
    path(
        "projects/<str:slug>/deliveries", ProjectDeliveriesApi.as_view(), name="project-deliveries"
    ),
]
