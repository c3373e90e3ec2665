"""Every route under /api/v1 declares a permission policy and turns away anyone
without a valid bearer token, with a 401, before it looks anything up."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from apps.core.permissions import DenyAll, IsAuthenticatedPrincipal

API_PREFIX = "api/v1/"
DUMMY_KWARGS = {
    "slug": "nope",
    "run_id": "0" * 32,
    "username": "nobody",
    "artifact_id": "0" * 32,
    "comment_id": "999999",
    "link_id": "999999",
    "destination_id": "999999",
    "rule_id": "999999",
    "name": "resnet",
    "number": "1",
    "alias": "champion",
    "request_id": "999999",
}
_CONVERTER_RE = re.compile(r"<(?:\w+:)?(\w+)>")

# What the README documents; the walk must find at least these (more is fine).
DOCUMENTED_ROUTES = {
    "api/v1/me",
    "api/v1/projects",
    "api/v1/projects/<str:slug>",
    "api/v1/projects/<str:slug>/restore",
    "api/v1/projects/<str:slug>/members",
    "api/v1/projects/<str:slug>/members/<str:username>",
    "api/v1/projects/<str:slug>/runs",
    "api/v1/runs/<str:run_id>",
    "api/v1/runs/<str:run_id>/restore",
    "api/v1/runs/<str:run_id>/finish",
    "api/v1/runs/<str:run_id>/resume",
    "api/v1/runs/<str:run_id>/heartbeat",
    "api/v1/runs/<str:run_id>/log",
    "api/v1/runs/<str:run_id>/metrics",
    "api/v1/runs/<str:run_id>/metrics/history",
    "api/v1/runs/<str:run_id>/compare",
    "api/v1/runs/<str:run_id>/ci-report",
    "api/v1/projects/<str:slug>/audit",
    "api/v1/projects/<str:slug>/audit/export",
    "api/v1/runs/<str:run_id>/artifacts",
    "api/v1/artifacts/<str:artifact_id>",
    "api/v1/artifacts/<str:artifact_id>/parts",
    "api/v1/artifacts/<str:artifact_id>/complete",
    "api/v1/artifacts/<str:artifact_id>/download",
    "api/v1/runs/<str:run_id>/comments",
    "api/v1/comments/<str:comment_id>",
    "api/v1/comments/<str:comment_id>/replies",
    "api/v1/runs/<str:run_id>/share-links",
    "api/v1/share-links/<str:link_id>",
    "api/v1/projects/<str:slug>/destinations",
    "api/v1/destinations/<str:destination_id>",
    "api/v1/destinations/<str:destination_id>/test",
    "api/v1/projects/<str:slug>/rules",
    "api/v1/rules/<str:rule_id>",
    "api/v1/projects/<str:slug>/deliveries",
    "api/v1/projects/<str:slug>/models",
    "api/v1/projects/<str:slug>/models/<str:name>",
    "api/v1/projects/<str:slug>/models/<str:name>/versions",
    "api/v1/projects/<str:slug>/models/<str:name>/versions/<str:number>",
    "api/v1/projects/<str:slug>/models/<str:name>/versions/<str:number>/files",
    "api/v1/projects/<str:slug>/model-versions/resolve",
    "api/v1/projects/<str:slug>/models/<str:name>/aliases",
    "api/v1/projects/<str:slug>/models/<str:name>/aliases/<str:alias>",
    "api/v1/projects/<str:slug>/models/<str:name>/promotions",
    "api/v1/projects/<str:slug>/models/<str:name>/promotions/<str:request_id>",
    "api/v1/projects/<str:slug>/models/<str:name>/promotions/<str:request_id>/decision",
}


@dataclass(frozen=True)
class Route:
    template: str
    view_class: type

    def path(self, **overrides: str) -> str:
        values = {**DUMMY_KWARGS, **overrides}
        return "/" + _CONVERTER_RE.sub(lambda m: values[m.group(1)], self.template)

    @property
    def methods(self) -> list[str]:
        """The HTTP methods the view answers (HEAD comes with GET)."""
        names = [m for m in self.view_class.http_method_names if hasattr(self.view_class, m)]
        if "get" in names and "head" not in names:
            names.append("head")
        return sorted(m.upper() for m in names)


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def api_routes() -> list[Route]:
    routes = []
    for template, callback in _walk(get_resolver().url_patterns):
        if template.startswith(API_PREFIX):
            view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            routes.append(Route(template, view_class))
    return routes


ROUTES = api_routes()
ROUTE_METHODS = [(route, method) for route in ROUTES for method in route.methods]


def _route_id(value) -> str:
    return value.template.removeprefix(API_PREFIX) if isinstance(value, Route) else str(value)


def relies_on_default_policy(view_class: type) -> bool:
    """True when no class of the view (below APIView) declares permission_classes,
    or when DenyAll is still among them."""
    declares = any(
        "permission_classes" in vars(klass)
        for klass in view_class.__mro__
        if issubclass(klass, APIView) and klass is not APIView
    )
    return not declares or DenyAll in view_class.permission_classes


def test_the_walk_finds_every_documented_route():
    assert {route.template for route in ROUTES} >= DOCUMENTED_ROUTES


def test_every_api_route_is_a_class_based_drf_view():
    offenders = [
        route.template
        for route in ROUTES
        if route.view_class is None or not issubclass(route.view_class, APIView)
    ]
    assert offenders == [], f"routes that are not APIView subclasses: {offenders}"


def test_the_default_policy_check_catches_a_view_that_declares_nothing():
    class Forgetful(APIView):
        def get(self, request):
            raise AssertionError("never reached")

    class ExplicitDenyAll(APIView):
        permission_classes = [DenyAll]

    class Declared(APIView):
        permission_classes = [IsAuthenticatedPrincipal]

    class Inherits(Declared):
        pass

    assert relies_on_default_policy(Forgetful) is True
    assert relies_on_default_policy(ExplicitDenyAll) is True
    assert relies_on_default_policy(Declared) is False
    assert relies_on_default_policy(Inherits) is False


def test_no_route_relies_on_the_default_deny_all_policy():
    offenders = sorted(
        f"{route.template} ({route.view_class.__qualname__})"
        for route in ROUTES
        if relies_on_default_policy(route.view_class)
    )
    assert offenders == [], (
        "these views declare no permission_classes and fall back to DenyAll; "
        f"give each its own policy: {offenders}"
    )


ANONYMOUS_BODY = {
    "error": {
        "code": "unauthenticated",
        "message": "Authentication credentials were not provided.",
        "field": None,
    }
}


def _assert_unauthenticated(response, body: dict | None) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    if body is not None:
        assert response.json() == body


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), ROUTE_METHODS, ids=_route_id)
def test_anonymous_is_401_before_any_lookup(route, method, django_assert_num_queries):
    client = APIClient()
    with django_assert_num_queries(0):
        response = client.generic(method, route.path())
    _assert_unauthenticated(response, None if method == "HEAD" else ANONYMOUS_BODY)


@pytest.fixture
def existing_kwargs(db, project, member):
    from apps.artifacts.models import Artifact
    from apps.runs.models import Run

    run = Run.objects.create(project=project, name="resnet", author=member)
    artifact = Artifact.objects.create(
        run=run,
        project=project,
        path="model.pt",
        size=1,
        sha256="0" * 64,
        content_type="application/octet-stream",
        storage_key=f"{project.pk}/{run.public_id}/{'1' * 32}",
        method="put",
    )
    from apps.collab.models import Comment, ShareLink

    comment = Comment.objects.create(run=run, author=member, author_label="m", body="x")
    link = ShareLink.objects.create(
        run=run, token_hash="0" * 64, created_by_label="m", expires_at="2999-01-01T00:00:00Z"
    )
    from tests.notifications.helpers import rule, slack_destination

    destination = slack_destination(project)
    return {
        "slug": project.slug,
        "run_id": run.public_id,
        "username": member.username,
        "artifact_id": artifact.public_id,
        "comment_id": str(comment.pk),
        "link_id": str(link.pk),
        "destination_id": str(destination.pk),
        "rule_id": str(rule(project, destination, "run.finished").pk),
    }


@pytest.mark.parametrize(("route", "method"), ROUTE_METHODS, ids=_route_id)
def test_anonymous_gets_the_same_401_for_existing_objects(route, method, existing_kwargs):
    response = APIClient().generic(method, route.path(**existing_kwargs))
    _assert_unauthenticated(response, None if method == "HEAD" else ANONYMOUS_BODY)


MALFORMED_HEADERS = {
    "Token abc": "Authorization header must be 'Bearer <token>'",
    "Bearer notakrk": "invalid token",
    "Bearer krk_wrong": "invalid token",
    "Bearer ": "Authorization header must be 'Bearer <token>'",
}


@pytest.mark.django_db
@pytest.mark.parametrize("header", sorted(MALFORMED_HEADERS))
@pytest.mark.parametrize(("route", "method"), ROUTE_METHODS, ids=_route_id)
def test_a_malformed_authorization_header_is_401(route, method, header):
    client = APIClient()
    response = client.generic(method, route.path(), HTTP_AUTHORIZATION=header)
    body = {
        "error": {"code": "unauthenticated", "message": MALFORMED_HEADERS[header], "field": None}
    }
    _assert_unauthenticated(response, None if method == "HEAD" else body)
