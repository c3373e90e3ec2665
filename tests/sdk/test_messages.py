"""Messages that tell the user what to do: a project the token cannot see (named,
with the projects it can see and never one it cannot), a URL that is a portal page
or does not lead to the API, ``https://`` against a plain-HTTP server, and the CLI
naming its own flags rather than Python's ``url=...``."""

from __future__ import annotations

import kiroku
import pytest
from kiroku.cli import main
from kiroku.settings import credentials_path

from apps.projects.models import Membership, Role
from tests.factories import ProjectFactory, make_token

CANNOT_SEE = "does not exist or this token cannot see it"


@pytest.fixture
def hidden_projects(db, admin):
    """Two projects the member may not read."""
    projects = [ProjectFactory(slug="secret-plans"), ProjectFactory(slug="secret-payroll")]
    for project in projects:
        Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return projects


def test_a_misspelt_project_names_the_ones_the_token_can_see(settings):
    with pytest.raises(kiroku.NotFound) as raised:
        kiroku.init(project="visoin", capture=False, settings=settings)

    assert raised.value.message == (
        f"project 'visoin' {CANNOT_SEE}; the token can see: vision (did you mean 'vision'?)"
    )


def test_a_project_the_token_cannot_read_is_never_named(settings, hidden_projects):
    with pytest.raises(kiroku.NotFound) as raised:
        kiroku.init(project="secret-plans", capture=False, settings=settings)

    assert raised.value.message == (
        f"project 'secret-plans' {CANNOT_SEE}; the token can see: vision"
    )


def test_a_token_that_sees_no_project_is_told_so(settings, outsider, project):
    lonely = settings.with_overrides(token=make_token(outsider))

    with pytest.raises(kiroku.NotFound) as raised:
        kiroku.init(project="vision", capture=False, settings=lonely)

    assert raised.value.message == (
        f"project 'vision' {CANNOT_SEE}; the token can see no project: create one in the "
        "portal, or ask a project's admin to add you"
    )


def test_a_service_token_names_only_its_own_project(settings, admin, project, hidden_projects):
    service = make_token(admin, project=hidden_projects[0], role=Role.MEMBER)

    with pytest.raises(kiroku.NotFound) as raised:
        kiroku.init(
            project="vision", capture=False, settings=settings.with_overrides(token=service)
        )

    assert raised.value.message == (
        f"project 'vision' {CANNOT_SEE}; the token can see: secret-plans"
    )


def test_a_missing_run_in_a_readable_project_keeps_its_own_message(settings):
    with pytest.raises(kiroku.NotFound) as raised:
        kiroku.init(id="no-such-run-1", resume="must", capture=False, settings=settings)

    assert raised.value.message == "no run with id 'no-such-run-1' in project vision"


def test_login_with_a_portal_page_asks_for_the_root_url(server, token, capsys):
    assert main(["login", "--url", f"{server}/projects/vision", "--token", token]) == 2

    assert capsys.readouterr().err == (
        f"kiroku: error: {server}/projects/vision is a page of the Kiroku portal, not the "
        f"server's address; give the server's root URL: {server}\n"
    )
    assert not credentials_path().exists()


def test_login_with_a_url_without_the_api_asks_for_the_root_url(server, token, capsys):
    assert main(["login", "--url", f"{server}/kiroku", "--token", token]) == 2

    assert capsys.readouterr().err == (
        f"kiroku: error: no Kiroku API at {server}/kiroku (GET {server}/kiroku/api/v1/me "
        f"answered 404): give the server's root URL, e.g. --url {server}\n"
    )


def test_https_against_a_plain_http_server_says_the_server_speaks_http(server, token, capsys):
    secure = server.replace("http://", "https://", 1)

    assert main(["login", "--url", secure, "--token", token]) == 1

    assert capsys.readouterr().err == (
        f"kiroku: error: cannot reach {secure}: the server there speaks plain HTTP, not "
        f"HTTPS; use {server}\n"
    )


def test_the_cli_names_its_flag_when_no_url_is_set(token, capsys):
    assert main(["runs", "list", "-p", "vision", "--token", token]) == 2

    assert capsys.readouterr().err == (
        "kiroku: error: no server URL: pass --url, set KIROKU_URL, or run `kiroku login`\n"
    )


def test_python_is_told_about_url_in_its_own_terms(token):
    with pytest.raises(kiroku.ConfigError) as raised:
        kiroku.Api(token=token)

    assert raised.value.message == (
        "no server URL: pass url=... to kiroku.init() or kiroku.Api(), set KIROKU_URL, or run "
        "`kiroku login`"
    )
