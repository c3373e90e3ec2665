"""A project's life on the portal: created from its name (the slug made from it, or
typed), deleted by an admin from its settings with the slug typed to confirm (a soft
delete, audited as the API's), and never left without an admin ("Remove" is not
offered to the only one)."""

from __future__ import annotations

import re

import pytest

from apps.audit.models import AuditEvent
from apps.portal.views.projects import slug_from_name
from apps.projects.models import Membership, Project, Role
from tests.factories import ProjectFactory

SETTINGS = "/projects/vision/settings"


def html_of(response) -> str:
    return response.content.decode()


# ---- creating a project from its name ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Vision", "vision"),
        ("Vision Models (v2)", "vision-models-v2"),
        ("  Speech__to--Text!  ", "speech-to-text"),
        ("Café Études", "cafe-etudes"),
        ("x" * 63 + " y", "x" * 63),  # cut to 64, no dash left at the end
    ],
)
def test_a_slug_is_made_from_the_name(name, slug):
    assert slug_from_name(name) == slug


def test_the_form_asks_the_name_first(portal_as, outsider):
    html = html_of(portal_as(outsider).get("/projects"))
    form = re.search(r'<form method="post" action="/projects".*?</form>', html, re.S).group(0)
    assert re.findall(r'<(?:input|textarea) [^>]*id="([\w-]+)"', form) == [
        "project-name",
        "project-slug",
        "project-description",
    ]
    assert 'data-derived-from="project-name"' in form
    assert '<script src="/static/portal/new_project.js" defer></script>' in html


def test_a_project_made_from_its_name_alone(portal_as, outsider):
    response = portal_as(outsider).post("/projects", {"name": "Vision Models", "slug": ""})
    assert response.status_code == 302
    assert response["Location"] == "/projects/vision-models"
    project = Project.objects.get(slug="vision-models")
    assert project.name == "Vision Models"
    assert Membership.objects.get(project=project, user=outsider).role == Role.ADMIN


def test_a_typed_slug_wins_over_the_name(portal_as, outsider):
    response = portal_as(outsider).post("/projects", {"name": "Vision Models", "slug": "vm"})
    assert response["Location"] == "/projects/vm"
    assert Project.objects.get(slug="vm").name == "Vision Models"


def test_a_taken_slug_says_so_and_keeps_the_form(portal_as, outsider, project):
    response = portal_as(outsider).post("/projects", {"name": "Vision", "slug": ""})
    assert response.status_code == 409
    html = html_of(response)
    assert (
        '<p class="error" role="alert" id="new-project-error">The slug vision is taken by '
        "another project: change the slug, for example to vision-2.</p>"
    ) in html
    assert re.search(r'id="project-slug" name="slug" maxlength="64" value="vision"', html)
    assert 'value="Vision"' in html
    assert Project.objects.filter(name="Vision").count() == 1


def test_a_name_without_latin_letters_asks_for_a_slug(portal_as, outsider):
    response = portal_as(outsider).post("/projects", {"name": "画像認識", "slug": ""})
    assert response.status_code == 400
    assert (
        'id="new-project-error">the name has no Latin letter or digit to make a slug from; '
        "type a slug</p>"
    ) in html_of(response)
    assert not Project.objects.exists()


def test_a_project_needs_a_name(portal_as, outsider):
    response = portal_as(outsider).post("/projects", {"name": " ", "slug": "speech"})
    assert response.status_code == 400
    assert 'id="new-project-error">give the project a name</p>' in html_of(response)
    assert not Project.objects.filter(slug="speech").exists()


# ---- deleting a project from its settings ------------------------------------------


def test_the_settings_page_offers_the_delete_form(portal_as, admin, project):
    html = html_of(portal_as(admin).get(SETTINGS))
    form = re.search(r'<form [^>]*id="delete-project-form">.*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="action" value="project_delete">' in form
    assert "Type the project's slug, <code>vision</code>, to confirm" in form
    assert '<button type="submit" class="danger">Delete project</button>' in form


def test_an_admin_deletes_the_project_by_typing_its_slug(portal_as, admin, project):
    response = portal_as(admin).post(
        SETTINGS, {"action": "project_delete", "confirm_slug": "vision"}, REMOTE_ADDR="10.0.0.7"
    )
    assert response.status_code == 302
    assert response["Location"] == "/projects"
    project.refresh_from_db()
    assert project.deleted_at is not None  # soft: restorable until purged
    event = AuditEvent.objects.get(action="project.delete")
    assert (event.actor_label, event.project_id, event.target_type, event.target_label) == (
        "alice_admin",
        project.pk,
        "project",
        "vision",
    )
    assert event.ip == "10.0.0.7"
    assert portal_as(admin).get("/projects/vision").status_code == 404


def test_the_message_after_deleting_says_how_to_restore(portal_as, admin, project):
    response = portal_as(admin).post(
        SETTINGS, {"action": "project_delete", "confirm_slug": "vision"}, follow=True
    )
    assert (
        "Project Vision (vision) is deleted. An admin can restore it with POST "
        "/api/v1/projects/vision/restore for 30 days; after that it is purged."
    ) in html_of(response)


@pytest.mark.parametrize("typed", ["", "Vision", "visio", "vision-models"])
def test_a_wrong_confirmation_deletes_nothing(portal_as, admin, project, typed):
    response = portal_as(admin).post(SETTINGS, {"action": "project_delete", "confirm_slug": typed})
    assert response.status_code == 400
    assert (
        '<p class="error" role="alert" id="project-delete-error">Not deleted: type the '
        "slug vision to confirm</p>"
    ) in html_of(response)
    project.refresh_from_db()
    assert project.deleted_at is None
    assert not AuditEvent.objects.filter(action="project.delete").exists()


@pytest.mark.parametrize(("who", "status"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_only_admins_delete_a_project(portal_as, persona, project, who, status):
    response = portal_as(persona[who]).post(
        SETTINGS, {"action": "project_delete", "confirm_slug": "vision"}
    )
    assert response.status_code == status
    project.refresh_from_db()
    assert project.deleted_at is None


# ---- the only admin is not offered "Remove" ----------------------------------------


def remove_buttons(html: str) -> list[str]:
    return re.findall(r'aria-label="Remove (\w+) from the project"', html)


def test_the_only_admin_has_no_remove_button(portal_as, admin, project):
    html = html_of(portal_as(admin).get(SETTINGS))
    assert remove_buttons(html) == ["bob_member", "carol_viewer"]
    row = re.search(r'<tr data-username="alice_admin">.*?</tr>', html, re.S).group(0)
    assert (
        '<span class="muted" id="sole-admin">The only admin: make someone else admin before '
        "you leave</span>"
    ) in row


def test_staff_sees_the_only_admin_without_remove(portal_as, staff, project):
    html = html_of(portal_as(staff).get(SETTINGS))
    assert '<span class="muted" id="sole-admin">The only admin</span>' in html
    assert remove_buttons(html) == ["bob_member", "carol_viewer"]


def test_with_two_admins_each_may_be_removed(portal_as, admin, member, project):
    Membership.objects.filter(project=project, user=member).update(role=Role.ADMIN)
    html = html_of(portal_as(admin).get(SETTINGS))
    assert remove_buttons(html) == ["alice_admin", "bob_member", "carol_viewer"]
    assert 'id="sole-admin"' not in html


def test_the_server_still_refuses_to_remove_the_only_admin(portal_as, admin, project):
    response = portal_as(admin).post(
        SETTINGS, {"action": "member_remove", "username": "alice_admin"}
    )
    assert response.status_code == 409
    assert Membership.objects.filter(project=project, user=admin, role=Role.ADMIN).exists()


def test_another_projects_admins_do_not_count(portal_as, admin, member, project):
    other = ProjectFactory(slug="other")
    Membership.objects.create(project=other, user=member, role=Role.ADMIN)
    assert remove_buttons(html_of(portal_as(admin).get(SETTINGS))) == ["bob_member", "carol_viewer"]
