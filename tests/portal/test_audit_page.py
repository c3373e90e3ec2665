"""The audit log page: admins only; filters, keyset pages ("Older", "Newest"), export
links with the same filters; every label escaped, and the names as they were."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from apps.portal.views import audit_page
from apps.projects.models import Membership, Role
from tests.audit.logs import T0, Log

URL = "/projects/vision/audit"


@pytest.fixture
def log(project) -> Log:
    return Log(project)


def html_of(response) -> str:
    return response.content.decode()


def rows(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-event="(\d+)">', html_of(response))]


def link(response, element_id: str) -> str | None:
    tag = re.search(rf'<a [^>]*id="{element_id}"[^>]*>', html_of(response))
    return (
        re.search(r'href="([^"]*)"', tag.group(0)).group(1).replace("&amp;", "&") if tag else None
    )


# ---- who may open it ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "template"),
    [
        ("admin", 200, "portal/audit.html"),
        ("staff", 200, "portal/audit.html"),
        ("member", 403, "403.html"),
        ("viewer", 403, "403.html"),
        ("outsider", 404, "404.html"),
    ],
)
def test_only_admins_open_the_audit_log(who, status, template, persona, portal_as, log):
    log.add()
    response = portal_as(persona[who]).get(URL)
    assert response.status_code == status
    assert response.templates[0].name == template
    assert ('<tr data-event="' in html_of(response)) == (status == 200)


def test_anonymous_is_sent_to_sign_in(portal_as, project):
    response = portal_as(None).get(URL, {"action": "run.*"})
    assert response.status_code == 302
    next_url = f"{URL}?action=run.%2A"
    assert response["Location"] == "/login?" + urlencode({"next": next_url}, safe="/")


def test_an_unknown_project_is_a_404(portal_as, admin, project):
    assert portal_as(admin).get("/projects/nope/audit").status_code == 404


# ---- the table ---------------------------------------------------------------------


def test_a_row_shows_time_actor_action_target_ip_and_agent(portal_as, admin, log):
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    event = log.add(
        "run.delete",
        user="bob_member",
        token="ci (krk_abcdefgh…)",
        target=("run", "abc123", "resnet (abc123)"),
        ip="10.1.2.3",
        user_agent=agent,
    )
    html = html_of(portal_as(admin).get(URL))
    row = re.search(rf'<tr data-event="{event.pk}">(.*?)</tr>', html, re.S).group(1)
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == [
        '<time datetime="2026-03-01T12:01:00+00:00">2026-03-01 12:01:00</time>',
        'ci (krk_abcdefgh…) <span class="muted">(token of bob_member)</span>',
        # The action starts at the verb: the token's label is in the Actor cell only.
        'deleted run resnet (abc123) <code class="muted">run.delete</code>',
        '<span class="muted">run</span>\n      <a href="?target_type=run&amp;target_id=abc123"'
        ' title="Every event of this run">resnet (abc123)</a>',
        "10.1.2.3",
        f'<span title="{agent}">Mozilla/5.0 (X11; Linux x86_64; rv:140.…</span>',
    ]


@pytest.mark.parametrize("token", ["", "ci (krk_abcdefgh…)"])
def test_the_actor_is_named_once_per_row(portal_as, admin, log, token):
    event = log.add("token.revoke", user="bob_member", token=token, target=("token", "7", "old"))
    html = html_of(portal_as(admin).get(URL))
    row = re.search(rf'<tr data-event="{event.pk}">(.*?)</tr>', html, re.S).group(1)
    label = token or "bob_member"
    assert row.count(label) == 1
    action = re.search(r'<td class="audit-action">(.*?)</td>', row).group(1)
    assert action == 'revoked token old <code class="muted">token.revoke</code>'


def test_newest_first_and_the_empty_log(portal_as, admin, log):
    assert "No events yet." in html_of(portal_as(admin).get(URL))
    events = [log.add() for _ in range(3)]
    assert rows(portal_as(admin).get(URL)) == [e.pk for e in reversed(events)]


def test_an_action_no_longer_registered_still_shows(portal_as, admin, log):
    log.add("legacy.thing", target=("run", "r1", "run one"))
    html = html_of(portal_as(admin).get(URL))
    assert (
        '<td class="audit-action">legacy.thing run one <code class="muted">legacy.thing</code></td>'
        in html
    )


def test_user_text_is_escaped(portal_as, admin, log):
    log.add(
        "run.update",
        user="<img src=x onerror=alert(1)>",
        target=("run", '"><svg onload=alert(2)>', "<script>alert(3)</script>"),
        user_agent="<script>alert(4)</script>" + "x" * 60,
    )
    html = html_of(portal_as(admin).get(URL))
    # The payload whole: the page's own mark is an <svg> right after a link's '">'.
    for raw in ("<img src=x", "<svg onload", "<script>alert", '"><svg onload'):
        assert raw not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert 'title="&lt;script&gt;alert(4)&lt;/script&gt;' in html
    assert "target_id=%22%3E%3Csvg+onload%3Dalert%282%29%3E" in html


def test_a_deleted_users_events_keep_the_name_they_had(portal_as, admin, member, project):
    Membership.objects.filter(project=project, user=member).update(role=Role.ADMIN)
    portal_as(member).post(
        "/projects/vision/settings", {"action": "project", "name": "Renamed", "description": ""}
    )
    member.delete()
    html = html_of(portal_as(admin).get(URL, {"action": "settings.update"}))
    assert len(re.findall(r"<tr data-event=", html)) == 1
    assert '<td class="audit-actor">bob_member</td>' in html
    assert '<td class="audit-action">edited the settings of project vision <code' in html


# ---- filters -----------------------------------------------------------------------


def test_each_filter_narrows_the_table(portal_as, admin, log):
    create = log.add("run.create", user="bob_member", target=("run", "abc", "a"))
    delete = log.add("run.delete", user="alice_admin", target=("run", "abc", "a"))
    member = log.add("member.add", user="alice_admin", target=("member", "7", "carol"))
    late = log.add(
        "run.finish", user="bob_member", target=("run", "xyz", "x"), at=T0 + timedelta(days=2)
    )
    client = portal_as(admin)
    cases = [
        ({"action": "run.*"}, [late, delete, create]),
        ({"action": "member.add"}, [member]),
        ({"actor": "bob_member"}, [late, create]),
        ({"target_type": "run", "target_id": "abc"}, [delete, create]),
        ({"target_id": "7"}, [member]),
        ({"target_type": "member"}, [member]),
        ({"since": "2026-03-01T12:02", "until": "2026-03-02T00:00"}, [member, delete]),
        ({"since": "2026-03-03T12:00:00"}, [late]),
        ({"action": "run.*", "actor": "alice_admin"}, [delete]),
    ]  # fmt: skip
    for query, expected in cases:
        response = client.get(URL, query)
        assert response.status_code == 200, query
        assert rows(response) == [e.pk for e in expected], query


def test_the_form_shows_the_filters_in_use(portal_as, admin, log):
    query = {
        "action": "run.*",
        "actor": "bob_member",
        "target_type": "run",
        "target_id": "abc",
        "since": "2026-03-01T12:00",
        "until": "2026-03-02T12:00:30",
    }
    html = html_of(portal_as(admin).get(URL, query))
    assert re.findall(r'<option value="([^"]*)" selected>', html) == ["run.*"]
    for name in ("actor", "target_type", "target_id", "since", "until"):
        assert re.search(rf'name="{name}" value="{re.escape(query[name])}"', html), name
    assert '<a href="/projects/vision/audit" id="audit-clear">Clear filters</a>' in html


def test_the_action_list_offers_every_registered_action_and_prefix(portal_as, admin, log):
    from apps.audit import registry

    html = html_of(portal_as(admin).get(URL))
    values = re.findall(r'<option value="([^"]*)"', html)
    prefixes = sorted({name.split(".")[0] for name in registry.names()})
    assert set(values) == {"", *registry.names(), *(f"{p}.*" for p in prefixes)}
    assert "settings.update" in values


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"action": "run.explode"}, "action", "unknown action &#x27;run.explode&#x27;"),
        ({"since": "soon"}, "since", "must be an ISO-8601 time"),
        (
            {"until": "9999-12-31T23:59:59-14:00"},
            "until",
            "time must fall within years 1 to 9999 once converted to UTC",
        ),
        ({"before": "\u0661\u0662"}, "before", "before must be an event id"),
        ({"before": "12abc"}, "before", "before must be an event id"),
        ({"actor": "bob\x00"}, "actor", "actor must not contain NUL characters"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_why(portal_as, admin, log, query, field, message):
    log.add()
    response = portal_as(admin).get(URL, query)
    html = html_of(response)
    assert response.status_code == 400
    assert f"<strong>The {field} could not be used:</strong>" in html
    assert message in html
    assert '<tr data-event="' not in html


# ---- pages -------------------------------------------------------------------------


def test_older_and_newest_never_repeat_or_skip(portal_as, admin, log, monkeypatch):
    monkeypatch.setattr(audit_page, "PAGE_SIZE", 3)
    events = [log.add("run.update") for _ in range(7)]
    arrived = []
    client = portal_as(admin)
    response = client.get(URL, {"action": "run.*"})
    assert link(response, "audit-newest") is None
    seen = rows(response)
    older = link(response, "audit-older")
    while older:
        assert older == f"?action=run.%2A&before={seen[-1]}"
        arrived.append(log.add("run.create"))  # newer than every page already shown
        response = client.get(URL + older)
        assert link(response, "audit-newest") == "?action=run.%2A"
        seen += rows(response)
        older = link(response, "audit-older")
    assert seen == [e.pk for e in reversed(events)]
    assert len(arrived) == 2
    newest = client.get(URL + "?action=run.%2A")
    assert rows(newest) == [arrived[1].pk, arrived[0].pk, events[-1].pk]


def test_export_links_carry_the_filters(portal_as, admin, log):
    log.add()
    response = portal_as(admin).get(URL, {"action": "run.*", "target_id": "r1", "before": "99"})
    export = "/api/v1/projects/vision/audit/export"
    assert link(response, "export-csv") == f"{export}?action=run.%2A&target_id=r1&format=csv"
    assert link(response, "export-jsonl") == f"{export}?action=run.%2A&target_id=r1&format=jsonl"
    unfiltered = portal_as(admin).get(URL)
    assert link(unfiltered, "export-jsonl") == f"{export}?format=jsonl"


def test_the_settings_page_links_here(portal_as, admin, project):
    html = html_of(portal_as(admin).get("/projects/vision/settings"))
    assert '<a href="/projects/vision/audit" id="audit-link">open the audit log</a>' in html
