from django.urls import path

from apps.artifacts.store_views import StoreTransferApi

urlpatterns = [
    path("store/<str:ticket>", StoreTransferApi.as_view(), name="store-transfer"),
]
