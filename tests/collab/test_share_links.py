"""Share links: one run, read-only, for whoever holds the link, until it expires or
is revoked; nothing else of the project is reachable through it."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.collab.models import ShareLink
from apps.collab.services import share_token_hash
from apps.projects.models import Project
from tests.artifacts.helpers import upload

API = "/api/v1"


@pytest.fixture
def shared(as_member, run_id):
    """A 24-hour link to the member's run (loss logged at steps 0..2), as its path."""
    as_member.post(
        f"{API}/runs/{run_id}/log",
        {"batch_id": "b", "metrics": [{"key": "loss", "value": v, "step": s}
                                      for s, v in enumerate([3.0, 2.0, 1.0])],
         "params": {"lr": "0.1"}},
    )  # fmt: skip
    response = as_member.post(f"{API}/runs/{run_id}/share-links", {"expires_in": 86400})
    assert response.status_code == 201
    return urlsplit(response.json()["url"]).path


def test_creating_a_link_answers_its_url_once(as_member, run_id):
    response = as_member.post(f"{API}/runs/{run_id}/share-links", {"expires_in": 3600})
    body = response.json()
    token = body["url"].rsplit("/", 1)[1]
    assert body["url"] == f"http://testserver/s/{token}"
    assert len(token) >= 43  # 256 bits, base64url
    link = ShareLink.objects.get(pk=body["id"])
    assert link.token_hash == share_token_hash(token)
    listed = as_member.get(f"{API}/runs/{run_id}/share-links").json()["results"]
    assert token not in str(listed)
    assert [(x["id"], x["active"], x["view_count"]) for x in listed] == [(link.pk, True, 0)]


LIFETIME = "expires_in must be whole seconds from 60 to 7776000 (90 days)"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"expires_in": 59}, "expires_in", LIFETIME),
        ({"expires_in": 7776001}, "expires_in", LIFETIME),
        ({"expires_in": "1d"}, "expires_in", LIFETIME),
        (
            {"include_artifacts": "yes"},
            "include_artifacts",
            "include_artifacts must be true or false",
        ),
    ],
)
def test_bad_link_settings_name_the_field(as_member, run_id, body, field, message):
    response = as_member.post(f"{API}/runs/{run_id}/share-links", body)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid", "message": message, "field": field}


def test_the_default_lifetime_is_seven_days(as_member, run_id):
    before = timezone.now()
    body = as_member.post(f"{API}/runs/{run_id}/share-links", {}).json()
    link = ShareLink.objects.get(pk=body["id"])
    assert timedelta(days=7) <= link.expires_at - before < timedelta(days=7, seconds=5)


def test_a_visitor_without_an_account_sees_exactly_that_run(shared, run_id):
    response = Client().get(shared)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>resnet50 " in html
    assert 'data-key="loss"' in html
    # No way into the project: no project links, no forms, no portal navigation.
    assert "/projects/vision" not in html
    assert "<form" not in html
    assert 'id="notes-edit"' not in html


def test_each_view_is_counted_and_audited_with_ip_and_user_agent(shared, run_id):
    Client(HTTP_USER_AGENT="curious-browser/1.0", REMOTE_ADDR="203.0.113.9").get(shared)
    Client().get(shared)
    link = ShareLink.objects.get()
    assert link.view_count == 2
    event = AuditEvent.objects.filter(action="share_link.access").order_by("pk").first()
    assert (event.actor_type, event.actor_label, event.ip, event.user_agent, event.target_id) == (
        "share_link",
        f"share link #{link.pk}",
        "203.0.113.9",
        "curious-browser/1.0",
        run_id,
    )


def test_the_page_reads_chart_data_through_the_link(shared):
    keys = Client().get(f"{shared}/metrics").json()["results"]
    assert [(k["key"], k["last"], k["count"]) for k in keys] == [("loss", 1.0, 3)]
    history = Client().get(f"{shared}/metrics/history", {"key": "loss"}).json()
    assert [(p["step"], p["value"]) for p in history["results"]] == [(0, 3.0), (1, 2.0), (2, 1.0)]


def test_a_revoked_link_is_dead_at_once(shared, as_member):
    link = ShareLink.objects.get()
    assert as_member.delete(f"{API}/share-links/{link.pk}").status_code == 204
    for path in (shared, f"{shared}/metrics", f"{shared}/metrics/history?key=loss"):
        assert Client().get(path).status_code == 404


def test_an_expired_link_is_404(shared):
    ShareLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(shared).status_code == 404


def _page_without_tokens(response) -> bytes:
    return re.sub(rb'"X-CSRFToken": "[^"]+"', b"", response.content)


def test_malformed_unknown_expired_and_revoked_tokens_look_the_same(shared, as_member):
    expired = as_member.post(
        f"/api/v1/runs/{ShareLink.objects.get().run.public_id}/share-links", {}
    ).json()
    ShareLink.objects.filter(pk=expired["id"]).update(expires_at=timezone.now())
    answers = [
        Client().get(path)
        for path in ("/s/x", "/s/" + "A" * 43, urlsplit(expired["url"]).path, "/s/%3Cscript%3E")
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({_page_without_tokens(a) for a in answers}) == 1


def test_turning_sharing_off_kills_every_link_and_refuses_new_ones(shared, as_member, project):
    Project.objects.filter(pk=project.pk).update(sharing_enabled=False)
    assert Client().get(shared).status_code == 404
    response = as_member.post(f"{API}/runs/{ShareLink.objects.get().run.public_id}/share-links", {})
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "sharing_disabled",
        "message": "link sharing is turned off for this project",
        "field": None,
    }
    assert ShareLink.objects.count() == 1


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_visitor_cannot_write_through_the_link(shared, method):
    response = getattr(Client(), method)(shared)
    assert response.status_code == 403
    assert ShareLink.objects.get().view_count == 0


def test_a_visitor_cannot_reach_the_project_or_another_run(shared, make_run):
    other = make_run(name="secret")
    client = Client()
    client.get(shared)
    assert client.get("/projects/vision")["Location"] == "/login?next=/projects/vision"
    assert client.get(f"/api/v1/runs/{other}").status_code == 401
    assert client.get(f"{shared.replace('/s/', '/s/x')}").status_code == 404


def test_files_are_shared_only_when_the_link_says_so(as_member, run_id):
    artifact = upload(as_member, run_id, "model.pt", b"weights")
    without = urlsplit(as_member.post(f"{API}/runs/{run_id}/share-links", {}).json()["url"]).path
    assert Client().get(f"{without}/artifacts").status_code == 404
    assert Client().get(f"{without}/artifacts/{artifact['id']}/download").status_code == 404
    assert 'id="artifacts"' not in Client().get(without).content.decode()


def test_a_shared_download_link_never_outlives_the_share(as_member, run_id, settings):
    settings.KIROKU_ARTIFACT_DOWNLOAD_EXPIRY_SECONDS = 3600
    artifact = upload(as_member, run_id, "model.pt", b"weights")
    body = as_member.post(
        f"{API}/runs/{run_id}/share-links", {"expires_in": 120, "include_artifacts": True}
    ).json()
    shared = urlsplit(body["url"]).path
    listing = Client().get(f"{shared}/artifacts").content.decode()
    assert f'href="{shared}/artifacts/{artifact["id"]}/download"' in listing
    redirect = Client().get(f"{shared}/artifacts/{artifact['id']}/download")
    assert redirect.status_code == 302
    served = Client().get(urlsplit(redirect["Location"]).path)
    assert b"".join(served.streaming_content) == b"weights"
    from apps.artifacts.storage.local import Ticket

    ticket = Ticket.open(urlsplit(redirect["Location"]).path.rsplit("/", 1)[1])
    assert ticket.expires <= ShareLink.objects.get(pk=body["id"]).expires_at.timestamp()


def test_an_artifact_of_another_run_is_not_reachable_through_a_link(as_member, run_id, make_run):
    other = upload(as_member, make_run(name="other"), "secret.txt", b"secret")
    body = as_member.post(f"{API}/runs/{run_id}/share-links", {"include_artifacts": True}).json()
    shared = urlsplit(body["url"]).path
    assert Client().get(f"{shared}/artifacts/{other['id']}/download").status_code == 404


def test_creating_and_revoking_are_audited(as_member, as_admin, run_id):
    body = as_member.post(f"{API}/runs/{run_id}/share-links", {"expires_in": 86400}).json()
    as_admin.delete(f"{API}/share-links/{body['id']}")
    events = AuditEvent.objects.filter(action__startswith="share_link.").order_by("pk")
    assert [(e.action, e.actor_user_label, e.metadata["id"]) for e in events] == [
        ("share_link.create", "bob_member", body["id"]),
        ("share_link.revoke", "alice_admin", body["id"]),
    ]


def test_user_text_on_the_shared_page_is_escaped(as_member, make_run):
    run_id = make_run(name="<script>alert(1)</script>")
    body = as_member.post(f"{API}/runs/{run_id}/share-links", {}).json()
    html = Client().get(urlsplit(body["url"]).path).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
