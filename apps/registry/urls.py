from django.urls import path

from apps.registry import api

MODEL = "projects/<str:slug>/models/<str:name>"

urlpatterns = [
    path("projects/<str:slug>/models", api.ModelListApi.as_view(), name="models"),
    path(
        "projects/<str:slug>/model-versions/resolve",
        api.VersionResolveApi.as_view(),
        name="model-version-resolve",
    ),
    path(MODEL, api.ModelDetailApi.as_view(), name="model"),
    path(f"{MODEL}/versions", api.VersionListApi.as_view(), name="model-versions"),
    path(f"{MODEL}/versions/<str:number>", api.VersionDetailApi.as_view(), name="model-version"),
    path(
        f"{MODEL}/versions/<str:number>/files",
        api.VersionFilesApi.as_view(),
        name="model-version-files",
    ),
    path(f"{MODEL}/aliases", api.AliasListApi.as_view(), name="model-aliases"),
    path(f"{MODEL}/aliases/<str:alias>", api.AliasDetailApi.as_view(), name="model-alias"),
    path(f"{MODEL}/promotions", api.PromotionListApi.as_view(), name="model-promotions"),
    path(
        f"{MODEL}/promotions/<str:request_id>",
        api.PromotionDetailApi.as_view(),
        name="model-promotion",
    ),
    path(
        f"{MODEL}/promotions/<str:request_id>/decision",
        api.PromotionDecisionApi.as_view(),
        name="model-promotion-decision",
    ),
]
