"""Every portal page declares who may open it, and an anonymous visitor is sent to
sign in before anything is looked up."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.portal.views.base import ANYONE

PORTAL_NAMESPACE = "portal"


def portal_routes() -> list[tuple[str, type]]:
    found = []

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == PORTAL_NAMESPACE:
                    for pattern in entry.url_patterns:
                        found.append((prefix + str(pattern.pattern), pattern.callback.view_class))
                else:
                    walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                continue

    walk(get_resolver().url_patterns)
    return found


ROUTES = [(t, v) for t, v in portal_routes() if t]


def test_the_walk_finds_the_portal_pages():
    assert {"projects", "projects/<slug:slug>", "projects/<slug:slug>/runs/<str:run_id>"} <= {
        t for t, _ in ROUTES
    }


@pytest.mark.parametrize(("template", "view"), ROUTES, ids=[t for t, _ in ROUTES])
def test_every_page_declares_its_access(template, view):
    assert getattr(view, "access", None) is not None, f"{view.__name__} declares no access"


SIGNED_IN_ROUTES = [(t, v) for t, v in ROUTES if v.access != ANYONE]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("template", "view"), SIGNED_IN_ROUTES, ids=[t for t, _ in SIGNED_IN_ROUTES]
)
def test_anonymous_is_sent_to_sign_in_without_a_lookup(
    template, view, client, django_assert_num_queries
):
    path = "/" + template.replace("<slug:slug>", "vision").replace("<str:run_id>", "0" * 32)
    path = path.replace("<str:comparison_id>", "1").replace("<str:name>", "resnet")
    method = "post" if "get" not in view.http_method_names or not hasattr(view, "get") else "get"
    with django_assert_num_queries(0):
        response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login?next={path}"
