from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from apps.portal.views.account import AccountView, SignInView, SignOutView, TokensView
from apps.portal.views.audit_page import AuditPageView
from apps.portal.views.base import ANYONE
from apps.portal.views.compare import CompareView
from apps.portal.views.comparisons import (
    ComparisonCommentsView,
    ComparisonShareLinksView,
    ComparisonsView,
    ComparisonView,
)
from apps.portal.views.integrations import IntegrationsView
from apps.portal.views.invitations import InvitationsView, InviteView
from apps.portal.views.models import ModelListView, ModelPageView, RunRegisterModelView
from apps.portal.views.password_reset import (
    PasswordResetCompleteView,
    PasswordResetConfirmView,
    PasswordResetSentView,
    PasswordResetView,
)
from apps.portal.views.project_settings import ProjectSettingsView
from apps.portal.views.projects import ProjectListView
from apps.portal.views.run import (
    RunArtifactsView,
    RunCommentsView,
    RunNotesView,
    RunPageView,
    RunShareLinksView,
    RunStatusView,
)
from apps.portal.views.runs_table import ColumnKeysView, RunsTableView, SavedViewsView
from apps.portal.views.shared import (
    SharedArtifactsView,
    SharedComparisonHistoryView,
    SharedDownloadView,
    SharedHistoryView,
    SharedMetricsView,
    SharedRunView,
    SharedStatusView,
)
from apps.portal.views.signup import SignUpView

app_name = "portal"


class FaviconView(RedirectView):
    """``/favicon.ico``, which browsers and tools ask for on their own: the SVG icon
    that every page names in its ``<link rel="icon">``, so the request is never a 404."""

    access = ANYONE
    permanent = False  # the static file's URL may change (a hashed name after collectstatic)

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("portal/favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("", RedirectView.as_view(pattern_name="portal:projects"), name="home"),
    path("login", SignInView.as_view(), name="login"),
    path("logout", SignOutView.as_view(), name="logout"),
    path("tokens", TokensView.as_view(), name="tokens"),
    path("account", AccountView.as_view(), name="account"),
    path("signup", SignUpView.as_view(), name="signup"),
    path("invites", InvitationsView.as_view(), name="invitations"),
    path("invite/<str:token>", InviteView.as_view(), name="invite"),
    path("password-reset", PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent", PasswordResetSentView.as_view(), name="password-reset-sent"),
    path(
        "password-reset/<uidb64>/<token>",
        PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done", PasswordResetCompleteView.as_view(), name="password-reset-complete"
    ),
    path("projects", ProjectListView.as_view(), name="projects"),
    path("projects/<slug:slug>", RunsTableView.as_view(), name="runs"),
    path("projects/<slug:slug>/columns", ColumnKeysView.as_view(), name="column-keys"),
    path("projects/<slug:slug>/views", SavedViewsView.as_view(), name="saved-views"),
    path("projects/<slug:slug>/compare", CompareView.as_view(), name="compare"),
    # A comparison's id is <str:…> and checked in the view, so that a malformed one is
    # the same 404 as a missing one (and an anonymous visitor is sent to sign in first).
    path("projects/<slug:slug>/comparisons", ComparisonsView.as_view(), name="comparisons"),
    path(
        "projects/<slug:slug>/comparisons/<str:comparison_id>",
        ComparisonView.as_view(),
        name="comparison",
    ),
    path(
        "projects/<slug:slug>/comparisons/<str:comparison_id>/comments",
        ComparisonCommentsView.as_view(),
        name="comparison-comments",
    ),
    path(
        "projects/<slug:slug>/comparisons/<str:comparison_id>/share",
        ComparisonShareLinksView.as_view(),
        name="comparison-share",
    ),
    path("projects/<slug:slug>/settings", ProjectSettingsView.as_view(), name="settings"),
    path("projects/<slug:slug>/audit", AuditPageView.as_view(), name="audit"),
    path("projects/<slug:slug>/integrations", IntegrationsView.as_view(), name="integrations"),
    path("projects/<slug:slug>/models", ModelListView.as_view(), name="models"),
    # A model name holds no "/" (apps.registry.validation.model_name_clean).
    path("projects/<slug:slug>/models/<str:name>", ModelPageView.as_view(), name="model"),
    path("projects/<slug:slug>/runs/<str:run_id>", RunPageView.as_view(), name="run"),
    path(
        "projects/<slug:slug>/runs/<str:run_id>/register-model",
        RunRegisterModelView.as_view(),
        name="run-register-model",
    ),
    path(
        "projects/<slug:slug>/runs/<str:run_id>/status", RunStatusView.as_view(), name="run-status"
    ),
    path("projects/<slug:slug>/runs/<str:run_id>/notes", RunNotesView.as_view(), name="run-notes"),
    path(
        "projects/<slug:slug>/runs/<str:run_id>/artifacts",
        RunArtifactsView.as_view(),
        name="run-artifacts",
    ),
    path(
        "projects/<slug:slug>/runs/<str:run_id>/comments",
        RunCommentsView.as_view(),
        name="run-comments",
    ),
    path(
        "projects/<slug:slug>/runs/<str:run_id>/share",
        RunShareLinksView.as_view(),
        name="run-share",
    ),
    path("s/<str:token>", SharedRunView.as_view(), name="shared-run"),
    path("s/<str:token>/status", SharedStatusView.as_view(), name="shared-status"),
    path("s/<str:token>/metrics", SharedMetricsView.as_view(), name="shared-metrics"),
    path("s/<str:token>/metrics/history", SharedHistoryView.as_view(), name="shared-history"),
    path("s/<str:token>/artifacts", SharedArtifactsView.as_view(), name="shared-artifacts"),
    path(
        "s/<str:token>/runs/<str:run_id>/metrics/history",
        SharedComparisonHistoryView.as_view(),
        name="shared-comparison-history",
    ),
    path(
        "s/<str:token>/artifacts/<str:artifact_id>/download",
        SharedDownloadView.as_view(),
        name="shared-download",
    ),
]
