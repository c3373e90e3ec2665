from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script, so the
    # Content-Security-Policy needs no exception for it.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("apps.accounts.urls")),
    path("api/v1/", include("apps.projects.urls")),
    path("api/v1/", include("apps.runs.urls")),
    path("api/v1/", include("apps.artifacts.urls")),
    path("api/v1/", include("apps.collab.urls")),
    path("api/v1/", include("apps.notifications.urls")),
    path("api/v1/", include("apps.ci.urls")),
    path("api/v1/", include("apps.registry.urls")),
    path("", include("apps.core.urls")),  # /metrics
    path("", include("apps.artifacts.local_store_urls")),
    path("", include("apps.portal.urls")),
]

# The Django admin: development only. Nothing of Kiroku's is registered in it (people,
# projects and roles are managed in the portal and the API, through the services and
# the audit log), so production has no use for a second sign-in page. Where it is
# mounted, its sign-in goes through the portal's throttle (apps.core.admin_site).
if settings.KIROKU_ENV != "production":
    urlpatterns.insert(0, path("admin/", admin.site.urls))

handler404 = "apps.core.errors.api_not_found"
handler500 = "apps.core.errors.api_server_error"
