"""Integrations and notifications page: admins only; comparison settings,
destinations, rules and the delivery log change through the same services as the API;
a token is never shown (only its masked hint); the test button answers "Sent" or the
error code only."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from apps.notifications.models import Destination
from tests.notifications.helpers import slack_destination
from tests.portal.integrations_helpers import HTMX, PAGE, TOKEN, events, text


@pytest.fixture
def client(portal_as, admin, project):
    return portal_as(admin)


# ---- who may open it -------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "template"),
    [
        ("admin", 200, "portal/integrations.html"),
        ("staff", 200, "portal/integrations.html"),
        ("member", 403, "403.html"),
        ("viewer", 403, "403.html"),
        ("outsider", 404, "404.html"),
    ],
)
def test_only_admins_open_the_page(who, status, template, persona, portal_as, project):
    response = portal_as(persona[who]).get(PAGE)
    assert response.status_code == status
    assert response.templates[0].name == template


def test_anonymous_is_sent_to_sign_in(portal_as, project):
    response = portal_as(None).get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/login?" + urlencode({"next": PAGE}, safe="/")


@pytest.mark.parametrize(("who", "status"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_a_non_admin_post_changes_nothing(who, status, persona, portal_as, project):
    response = portal_as(persona[who]).post(
        PAGE,
        {
            "action": "destination_add",
            "kind": "slack",
            "name": "x",
            "token": TOKEN,
            "target": "C0KIROKU01",
        },
    )
    assert response.status_code == status
    assert not Destination.objects.exists()


def test_the_settings_page_links_here(client):
    html = text(client.get("/projects/vision/settings"))
    assert (
        '<a href="/projects/vision/integrations" id="integrations-link">'
        "Integrations and notifications</a>" in html
    )


def test_an_unknown_action_is_a_400(client):
    response = client.post(PAGE, {"action": "explode"})
    assert response.status_code == 400
    assert "unknown action &#x27;explode&#x27;" in text(response)


# ---- destinations ----------------------------------------------------------------


def test_the_token_is_never_shown_only_its_masked_hint(client, project):
    slack_destination(project, token=TOKEN)
    html = text(client.get(PAGE))
    assert "pageSecretToken" not in html
    assert "xoxb-••••oken" in html
    # The token fields are password inputs and never pre-filled.
    tokens = re.findall(
        r'<input type="(\w+)" id="[\w-]*token" name="token"[^>]*value="([^"]*)"', html
    )
    assert tokens == [("password", ""), ("password", "")]


def test_the_admin_adds_a_slack_destination(client, project):
    response = client.post(
        PAGE,
        {
            "action": "destination_add",
            "kind": "slack",
            "name": "ml-alerts",
            "token": TOKEN,
            "target": "C0KIROKU01",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#destinations"
    destination = Destination.objects.get()
    assert (destination.kind, destination.name, destination.target) == (
        "slack",
        "ml-alerts",
        "C0KIROKU01",
    )
    assert destination.credentials == {"token": TOKEN}
    assert len(events("destination.create")) == 1
    assert "Destination “ml-alerts” added. Send it a test message." in text(client.get(PAGE))


def test_the_admin_adds_a_notion_database(client, project):
    response = client.post(
        PAGE,
        {
            "action": "destination_add",
            "kind": "notion",
            "name": "results",
            "token": "ntn_secret1234567",
            "target": "1f2e3d4c5b6a79881726354453627180",
        },
    )
    assert response.status_code == 302
    assert Destination.objects.get().target == "1f2e3d4c-5b6a-7988-1726-354453627180"


def test_a_refused_destination_is_explained_inline_without_echoing_the_token(client, project):
    response = client.post(
        PAGE,
        {
            "action": "destination_add",
            "kind": "slack",
            "name": "ml-alerts",
            "token": TOKEN,
            "target": "#general",
        },
    )
    assert response.status_code == 400
    html = text(response)
    assert (
        "Not added: config.channel must be a Slack channel id such as C0123ABCD (the "
        "channel&#x27;s details show it), not its name" in html
    )
    assert 'value="ml-alerts"' in html
    assert "pageSecretToken" not in html
    assert not Destination.objects.exists()


def test_editing_keeps_the_token_when_the_field_is_blank(client, project):
    destination = slack_destination(project, token=TOKEN)
    response = client.post(
        PAGE,
        {
            "action": "destination_edit",
            "destination": destination.pk,
            "name": "renamed",
            "target": "C0OTHER001",
            "token": "",
        },
    )
    assert response.status_code == 302
    destination.refresh_from_db()
    assert (destination.name, destination.target) == ("renamed", "C0OTHER001")
    assert destination.credentials == {"token": TOKEN}


def test_editing_with_a_new_token_replaces_it(client, project):
    destination = slack_destination(project, token=TOKEN)
    client.post(
        PAGE,
        {
            "action": "destination_edit",
            "destination": destination.pk,
            "name": destination.name,
            "target": destination.target,
            "token": "xoxb-brand-new-9999",
        },
    )
    destination.refresh_from_db()
    assert destination.credentials == {"token": "xoxb-brand-new-9999"}
    assert destination.credentials_hint == "xoxb-••••9999"


def test_a_refused_edit_is_shown_next_to_its_destination(client, project):
    other = slack_destination(project)
    Destination.objects.filter(pk=other.pk).update(name="taken")
    destination = slack_destination(project, token=TOKEN)
    response = client.post(
        PAGE,
        {
            "action": "destination_edit",
            "destination": destination.pk,
            "name": "taken",
            "target": destination.target,
            "token": "xoxb-typed-but-refused-1234",
        },
    )
    assert response.status_code == 409
    html = text(response)
    card = html[html.index(f'id="destination-{destination.pk}"') :]
    assert "a destination named &#x27;taken&#x27; already exists" in card.split("</details>")[0]
    assert "typed-but-refused" not in html


def test_removing_a_destination(client, project):
    destination = slack_destination(project)
    response = client.post(PAGE, {"action": "destination_delete", "destination": destination.pk})
    assert response.status_code == 302
    assert not Destination.objects.exists()
    assert len(events("destination.delete")) == 1


def test_another_projects_destination_is_not_found(client, project, other_project):
    theirs = slack_destination(other_project)
    response = client.post(PAGE, {"action": "destination_delete", "destination": theirs.pk})
    assert response.status_code == 404
    assert Destination.objects.filter(pk=theirs.pk).exists()


# ---- the test button ---------------------------------------------------------------


def test_the_test_button_says_sent(client, project, fake_slack):
    destination = slack_destination(project, token=fake_slack.token)
    response = client.post(
        PAGE, {"action": "destination_test", "destination": destination.pk}, **HTMX
    )
    assert response.status_code == 200
    assert text(response).strip() == '<span class="ok">Sent</span>'
    assert len(fake_slack.messages) == 1


def test_the_test_button_shows_the_error_code_only(client, project, fake_slack):
    destination = slack_destination(project, token="xoxb-wrong-token")
    response = client.post(
        PAGE, {"action": "destination_test", "destination": destination.pk}, **HTMX
    )
    assert response.status_code == 200
    assert text(response).strip() == (
        '<span class="error">Not sent: <code>invalid_auth</code></span>'
    )
    assert fake_slack.messages == []


def test_the_test_button_without_htmx_redirects_with_a_message(client, project, fake_slack):
    destination = slack_destination(project, token="xoxb-wrong-token")
    response = client.post(PAGE, {"action": "destination_test", "destination": destination.pk})
    assert response.status_code == 302
    assert "Test message to “ml-runs”: invalid_auth" in text(client.get(PAGE))


def test_the_test_button_for_a_missing_destination_answers_200_for_htmx(client, project):
    response = client.post(PAGE, {"action": "destination_test", "destination": "999"}, **HTMX)
    assert response.status_code == 200
    assert "not_found" in text(response)
