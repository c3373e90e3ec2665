"""Routes outside /api/v1: the local artifact store's signed transfers (apps.artifacts.urls
has the API's)."""

from django.urls import path

from apps.artifacts.local_store_views import StoreTransferApi

urlpatterns = [
    path("store/<str:ticket>", StoreTransferApi.as_view(), name="store-transfer"),
]
