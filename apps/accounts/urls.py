from django.urls import path

from apps.accounts.api import MeApi

urlpatterns = [
    path("me", MeApi.as_view(), name="me"),
]
