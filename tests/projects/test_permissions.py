"""Who may do what on a project and its runs: every endpoint by every persona.

A project or run a principal may not read answers exactly like one that does not
exist (404); one it may read but not change answers 403.

The two service tokens of the project (``viewer_token``, ``member_token``) and the
other project's token are all created by the admin, and the comment and share link
the "own" rules guard are the admin's: a token that acted as its creator would pass
them. A service token acts only through its role.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.runs.models import Run
from tests.factories import UserFactory
from tests.test_route_policies import api_routes

API = "/api/v1"
MISSING = {
    "slug": "nope",
    "run_id": "0" * 32,
    "artifact_id": "0" * 32,
    "pending_id": "0" * 32,
    "multipart_id": "0" * 32,
    "comment_id": "999999",
    "link_id": "999999",
    "destination_id": "999999",
    "rule_id": "999999",
    "reported_run_id": "0" * 32,
    "model": "nope-model",
    "alias": "staging",
    "promotion_id": "999999",
}

PERSONAS = (
    "admin",
    "member",
    "viewer",
    "outsider",
    "viewer_token",
    "member_token",
    "other_token",
    "staff",
)


@dataclass(frozen=True)
class Expect:
    """The status each persona gets, and the role a 403 names."""

    needs: str
    admin: int
    member: int
    viewer: int
    outsider: int
    viewer_token: int
    member_token: int
    other_token: int
    staff: int
    # the 403's message when it is not about the role
    forbidden: str | None = None


# fmt: off
#                        needs      admin member viewer outsider viewer   member  other  staff
#                                                                token    token   token
READ            = Expect("viewer",  200,  200,   200,   404,     200,     200,    404,   200)
READ_REDIRECT   = Expect("viewer",  302,  302,   302,   404,     302,     302,    404,   302)
COMMENT_CREATE  = Expect("viewer",  201,  201,   201,   404,     201,     201,    404,   201)
# The comment and the share link are the admin's, who created every token.
AUTHOR_EDIT     = Expect("viewer",  200,  403,   403,   404,     403,     403,    404,   403,
                         "only its author can edit a comment")
AUTHOR_DELETE   = Expect("viewer",  204,  403,   403,   404,     403,     403,    404,   204,
                         "only its author or a project admin can delete a comment")
CREATOR_REVOKE  = Expect("viewer",  204,  403,   403,   404,     403,     403,    404,   204,
                         "only its creator or a project admin can revoke a share link")
RUN_CREATE      = Expect("member",  201,  201,   403,   404,     403,     201,    404,   201)
RUN_WRITE       = Expect("member",  200,  200,   403,   404,     403,     200,    404,   200)
MEMBER_204      = Expect("member",  204,  204,   403,   404,     403,     204,    404,   204)
ADMIN_200       = Expect("admin",   200,  403,   403,   404,     403,     403,    404,   200)
ADMIN_201       = Expect("admin",   201,  403,   403,   404,     403,     403,    404,   201)
ADMIN_204       = Expect("admin",   204,  403,   403,   404,     403,     403,    404,   204)
# A deleted project is hidden from all but admins; its service tokens stop authenticating.
RESTORE_PROJECT = Expect("admin",   200,  404,   404,   404,     401,     401,    404,   200)
# Only admins learn that a deleted run exists.
RESTORE_RUN     = Expect("admin",   200,  404,   404,   404,     404,     404,    404,   200)
# fmt: on


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: dict | None
    expect: Expect
    # soft-delete the project or the run before the request
    deleted: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.deleted} deleted)" if self.deleted else "")


P = "/projects/{slug}"
R = "/runs/{run_id}"
A = "/artifacts/{artifact_id}"
D = "/destinations/{destination_id}"
RULE = "/rules/{rule_id}"
M = "/projects/{slug}/models/{model}"
LOG_BODY = {"batch_id": "b-1", "metrics": [{"key": "loss", "value": 0.5, "step": 0}]}
SLACK_CONFIG = {"token": "xoxb-1111-2222-matrix", "channel": "C0MATRIX01"}
# String values of a body are formatted like the path ("{destination_id}").
RULE_BODY = {"event": "run.finished", "destination": "{destination_id}"}

ENDPOINTS = [
    Endpoint("GET", P, None, READ),
    Endpoint("PATCH", P, {"name": "Vision 2"}, ADMIN_200),
    Endpoint("DELETE", P, None, ADMIN_204),
    Endpoint("POST", P + "/restore", None, ADMIN_200),
    Endpoint("POST", P + "/restore", None, RESTORE_PROJECT, deleted="project"),
    Endpoint("GET", P + "/members", None, READ),
    Endpoint("POST", P + "/members", {"username": "dave_new", "role": "viewer"}, ADMIN_201),
    Endpoint("PATCH", P + "/members/carol_viewer", {"role": "member"}, ADMIN_200),
    Endpoint("DELETE", P + "/members/carol_viewer", None, ADMIN_204),
    Endpoint("POST", P + "/runs", {"name": "vgg"}, RUN_CREATE),
    Endpoint("GET", P + "/runs", None, READ),
    Endpoint("GET", R, None, READ),
    Endpoint("PATCH", R, {"notes": "looks good"}, RUN_WRITE),
    Endpoint("DELETE", R, None, ADMIN_204),
    Endpoint("POST", R + "/restore", None, ADMIN_200),
    Endpoint("POST", R + "/restore", None, RESTORE_RUN, deleted="run"),
    Endpoint("POST", R + "/finish", {"status": "finished"}, RUN_WRITE),
    Endpoint("POST", R + "/resume", None, RUN_WRITE),
    Endpoint("POST", R + "/heartbeat", None, RUN_WRITE),
    Endpoint("POST", R + "/log", LOG_BODY, RUN_WRITE),
    Endpoint("GET", R + "/metrics", None, READ),
    Endpoint("GET", R + "/metrics/history?key=loss", None, READ),
    Endpoint("GET", R + "/compare?baseline=branch:main&fail_on=loss>0", None, READ),
    Endpoint("POST", R + "/ci-report", {"baseline": "branch:main"}, RUN_CREATE),
    Endpoint("GET", "/runs/{reported_run_id}/ci-report", None, READ),
    Endpoint("GET", R + "/artifacts", None, READ),
    Endpoint("POST", R + "/artifacts", {"path": "m.pt", "size": 1, "sha256": "0" * 64}, RUN_CREATE),
    Endpoint("GET", A, None, READ),
    Endpoint("DELETE", A, None, ADMIN_204),
    Endpoint("GET", A + "/download", None, READ_REDIRECT),
    Endpoint("POST", "/artifacts/{pending_id}/complete", {}, RUN_WRITE),
    Endpoint("POST", "/artifacts/{multipart_id}/parts", {"sha256": ["0" * 64] * 13}, RUN_WRITE),
    Endpoint("GET", R + "/comments", None, READ),
    Endpoint("POST", R + "/comments", {"body": "nice run"}, COMMENT_CREATE),
    Endpoint("GET", "/comments/{comment_id}/replies", None, READ),
    Endpoint("PATCH", "/comments/{comment_id}", {"body": "edited"}, AUTHOR_EDIT),
    Endpoint("DELETE", "/comments/{comment_id}", None, AUTHOR_DELETE),
    Endpoint("GET", R + "/share-links", None, RUN_WRITE),
    Endpoint("POST", R + "/share-links", {"expires_in": 86400}, RUN_CREATE),
    Endpoint("DELETE", "/share-links/{link_id}", None, CREATOR_REVOKE),
    Endpoint("GET", P + "/audit", None, ADMIN_200),
    Endpoint("GET", P + "/audit/export", None, ADMIN_200),
    Endpoint("GET", P + "/destinations", None, ADMIN_200),
    Endpoint(
        "POST",
        P + "/destinations",
        {"kind": "slack", "name": "alerts", "config": SLACK_CONFIG},
        ADMIN_201,
    ),
    Endpoint("GET", D, None, ADMIN_200),
    Endpoint("PATCH", D, {"name": "renamed"}, ADMIN_200),
    Endpoint("DELETE", D, None, ADMIN_204),
    # A failed test message is still a 200 ({"ok": false, ...}): Slack is unreachable here.
    Endpoint("POST", D + "/test", None, ADMIN_200),
    Endpoint("GET", P + "/rules", None, ADMIN_200),
    Endpoint("POST", P + "/rules", RULE_BODY, ADMIN_201),
    Endpoint("GET", RULE, None, ADMIN_200),
    Endpoint("PATCH", RULE, {"enabled": False}, ADMIN_200),
    Endpoint("DELETE", RULE, None, ADMIN_204),
    Endpoint("GET", P + "/deliveries", None, ADMIN_200),
    Endpoint("GET", P + "/models", None, READ),
    Endpoint("POST", P + "/models", {"name": "vgg"}, RUN_CREATE),
    Endpoint("GET", M, None, READ),
    Endpoint("PATCH", M, {"description": "the classifier"}, RUN_WRITE),
    Endpoint("DELETE", M, None, ADMIN_204),
    Endpoint("GET", M + "/versions", None, READ),
    Endpoint("POST", M + "/versions", {"run_id": "{run_id}", "path": "weights/"}, RUN_CREATE),
    Endpoint("GET", M + "/versions/1", None, READ),
    Endpoint("PATCH", M + "/versions/1", {"description": "first"}, RUN_WRITE),
    Endpoint("GET", M + "/versions/1/files", None, READ),
    Endpoint("GET", P + "/model-versions/resolve?ref={model}@staging", None, READ),
    Endpoint("GET", M + "/aliases", None, READ),
    Endpoint("PUT", M + "/aliases/{alias}", {"version": 1, "reason": "try it"}, RUN_WRITE),
    Endpoint("PATCH", M + "/aliases/{alias}", {"protected": True}, ADMIN_200),
    Endpoint("DELETE", M + "/aliases/{alias}", None, MEMBER_204),
    Endpoint("GET", M + "/promotions", None, READ),
    Endpoint(
        "POST", M + "/promotions", {"version": 1, "alias": "prod", "reason": "better"}, RUN_CREATE
    ),
    Endpoint("GET", M + "/promotions/{promotion_id}", None, READ),
    Endpoint("POST", M + "/promotions/{promotion_id}/decision", {"approve": False}, ADMIN_200),
]

CASES = [(endpoint, persona) for endpoint in ENDPOINTS for persona in PERSONAS]


@pytest.fixture
def run_id(api_as, member, project) -> str:
    response = api_as(member).post(f"{API}/projects/vision/runs", {"name": "resnet"})
    assert response.status_code == 201
    return response.json()["id"]


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def artifact_ids(api_as, admin, member, run_id, project, settings) -> dict[str, str]:
    """A complete artifact, a single-PUT one whose bytes are sent but not completed,
    and a pending multipart one; the admin's comment and share link, a Slack
    destination (whose Slack answers nothing) and a rule."""
    from tests.artifacts.helpers import declare, transfer_put, upload
    from tests.notifications.helpers import rule, slack_destination

    settings.KIROKU_SLACK_API_URL = f"http://127.0.0.1:{_closed_port()}/api"
    destination = slack_destination(project)
    finished = rule(project, destination, "run.finished")

    client = api_as(member)
    complete = upload(client, run_id, "model.pt", b"weights")
    pending = declare(client, run_id, "log.txt", b"log").json()
    transfer_put(pending["upload"]["url"], b"log", pending["upload"]["headers"])
    multipart = client.post(
        f"{API}/runs/{run_id}/artifacts",
        {"path": "big.bin", "size": 100 * 1024 * 1024, "sha256": "0" * 64},
    ).json()
    reported = client.post(f"{API}/projects/vision/runs", {"name": "ci"}).json()["id"]
    assert client.post(f"{API}/runs/{reported}/ci-report", {}).status_code == 201
    upload(client, run_id, "weights/model.bin", b"weights of the model")
    registered = client.post(
        f"{API}/projects/vision/models/resnet/versions",
        {"run_id": run_id, "path": "weights/", "aliases": ["staging"]},
    )
    assert registered.status_code == 201, registered.content
    promotion = client.post(
        f"{API}/projects/vision/models/resnet/promotions",
        {"version": 1, "alias": "champion", "reason": "it is better"},
    ).json()
    as_admin = api_as(admin)
    comment = as_admin.post(f"{API}/runs/{run_id}/comments", {"body": "first!"}).json()
    link = as_admin.post(f"{API}/runs/{run_id}/share-links", {}).json()
    return {
        "artifact_id": complete["id"],
        "pending_id": pending["id"],
        "multipart_id": multipart["id"],
        "comment_id": str(comment["id"]),
        "link_id": str(link["id"]),
        "destination_id": str(destination.pk),
        "rule_id": str(finished.pk),
        "reported_run_id": reported,
        "model": "resnet",
        "alias": "staging",
        "promotion_id": str(promotion["id"]),
    }


@pytest.fixture
def newcomer(db):
    return UserFactory(username="dave_new")


@pytest.fixture
def client_for(request, api_as, staff):
    """The API client of a persona, by name."""
    fixtures = {
        "admin": "as_admin",
        "member": "as_member",
        "viewer": "as_viewer",
        "outsider": "as_outsider",
        "viewer_token": "as_viewer_service",
        "member_token": "as_service",
        "other_token": "as_other_project_token",
    }

    def build(persona: str):
        if persona == "staff":
            return api_as(staff)
        return request.getfixturevalue(fixtures[persona])

    return build


def _placeholders(endpoint: Endpoint) -> set[str]:
    texts = [endpoint.path, *(v for v in (endpoint.body or {}).values() if isinstance(v, str))]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


# What the artifact_ids fixture makes (a dozen requests): built only for the endpoints
# that name one of them.
EXTRA_IDS = set(MISSING) - {"slug", "run_id"}


def _call(client, endpoint: Endpoint, **kwargs: str):
    body = endpoint.body
    if body is not None:
        body = {k: v.format(**kwargs) if isinstance(v, str) else v for k, v in body.items()}
    return getattr(client, endpoint.method.lower())(API + endpoint.path.format(**kwargs), body)


@pytest.mark.parametrize(("endpoint", "persona"), CASES, ids=str)
def test_role_matrix(request, endpoint, persona, client_for, project, run_id, newcomer):
    extra_ids = (
        request.getfixturevalue("artifact_ids") if _placeholders(endpoint) & EXTRA_IDS else {}
    )
    client = client_for(persona)
    if endpoint.deleted == "project":
        Project.objects.filter(pk=project.pk).update(deleted_at=timezone.now())
    elif endpoint.deleted == "run":
        Run.objects.filter(public_id=run_id).update(deleted_at=timezone.now())
    audit_before = AuditEvent.objects.count()

    response = _call(client, endpoint, slug=project.slug, run_id=run_id, **extra_ids)

    expected = getattr(endpoint.expect, persona)
    assert response.status_code == expected, response.content
    if expected == 403:
        message = endpoint.expect.forbidden or (
            f"this needs the {endpoint.expect.needs} role in project 'vision'"
        )
        assert response.json() == {
            "error": {"code": "forbidden", "message": message, "field": None}
        }
    elif expected == 404:
        missing = _call(client, endpoint, **MISSING)
        assert missing.status_code == 404
        assert response.json() == missing.json()
    if expected >= 400:
        assert AuditEvent.objects.count() == audit_before


def test_the_matrix_covers_every_method_of_every_project_and_run_route():
    def template(path: str) -> str:
        path = (
            path.split("?")[0].replace("{slug}", "<str:slug>").replace("{run_id}", "<str:run_id>")
        ).replace("{reported_run_id}", "<str:run_id>")
        for name in ("artifact_id", "pending_id", "multipart_id"):
            path = path.replace("{" + name + "}", "<str:artifact_id>")
        for name in ("comment_id", "link_id", "destination_id", "rule_id"):
            path = path.replace("{" + name + "}", f"<str:{name}>")
        path = path.replace("{model}", "<str:name>").replace(
            "/versions/1", "/versions/<str:number>"
        )
        path = path.replace("{alias}", "<str:alias>").replace("{promotion_id}", "<str:request_id>")
        return "api/v1" + path.replace("carol_viewer", "<str:username>")

    covered = {(e.method, template(e.path)) for e in ENDPOINTS}
    scoped = {
        (method, route.template)
        for route in api_routes()
        if route.template.startswith(
            (
                "api/v1/projects/",
                "api/v1/runs/",
                "api/v1/artifacts/",
                "api/v1/comments/",
                "api/v1/share-links/",
                "api/v1/destinations/",
                "api/v1/rules/",
            )
        )
        for method in route.methods
        if method not in {"HEAD", "OPTIONS"}
    }
    assert sorted(scoped - covered) == []
