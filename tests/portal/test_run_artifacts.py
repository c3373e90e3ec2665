"""The run page's artifacts browser: one folder per htmx request, sizes, download
links, and preview buttons only for types the server serves inline."""

from __future__ import annotations

import re

import pytest

from apps.projects.models import Membership, Role
from tests.artifacts.helpers import upload

XSS = "<script>alert(1)</script>"


def folder(run_id: str, path: str | None = None, slug: str = "vision") -> str:
    url = f"/projects/{slug}/runs/{run_id}/artifacts"
    return url if path is None else f"{url}?path={path}"


def files(html: str) -> list[tuple[str, str, str]]:
    """``(data-path, data-preview, size text)`` of each file row, in order."""
    return re.findall(
        r'<li class="file" data-path="([^"]*)" data-preview="([^"]*)" data-size="\d+">\s*'
        r'<span class="name">[^<]*</span> <span class="muted size">([^<]*)</span>',
        html,
    )


def folders(html: str) -> list[tuple[str, str]]:
    """``(data-path, summary text)`` of each folder row, in order."""
    return re.findall(
        r'<li class="folder" data-path="([^"]*)">.*?<summary><span class="name">[^<]*</span> '
        r'<span class="muted size">([^<]*)</span></summary>',
        html,
        flags=re.S,
    )


@pytest.fixture
def artifacts(as_member, run_id) -> dict[str, dict]:
    uploaded = {}
    for path, data, content_type in [
        ("model.pt", b"\0" * 3000, None),
        ("report.html", b"<html><script>alert(1)</script></html>", "text/html"),
        ("plots/loss.png", b"\x89PNG" + b"\0" * 2044, "image/png"),
        ("plots/diagram.svg", b"<svg onload=alert(1)></svg>", "image/svg+xml"),
        ("plots/deep/table.csv", b"a,b\n1,2\n", "text/csv"),
        ("logs/train.log", b"epoch 1\n", "text/plain"),
        ("config.json", b'{"lr": 0.1}', "application/json"),
    ]:
        extra = {"content_type": content_type} if content_type else {}
        uploaded[path] = upload(as_member, run_id, path, data, **extra)
    return uploaded


@pytest.mark.django_db
def test_the_root_lists_folders_with_totals_and_files_with_sizes(
    portal_as, viewer, run_id, artifacts
):
    response = portal_as(viewer).get(folder(run_id), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert folders(html) == [("logs", "8 B in 1 file"), ("plots", "2.0 KiB in 3 files")]
    assert files(html) == [
        ("config.json", "json", "11 B"),
        ("model.pt", "", "2.9 KiB"),
        ("report.html", "", "38 B"),
    ]
    model = artifacts["model.pt"]["id"]
    assert f'<a class="download" href="/api/v1/artifacts/{model}/download">Download' in html
    config = artifacts["config.json"]["id"]
    assert f'data-url="/api/v1/artifacts/{config}/download?inline=true"' in html
    assert html.count("preview-toggle") == 1  # never for HTML or an unknown type
    assert (
        f'hx-get="/projects/vision/runs/{run_id}/artifacts?path=plots" hx-trigger="toggle once"'
        in html
    )


@pytest.mark.django_db
def test_a_folder_lists_its_own_files_and_subfolders(portal_as, viewer, run_id, artifacts):
    html = portal_as(viewer).get(folder(run_id, "plots")).content.decode()
    assert folders(html) == [("plots/deep", "8 B in 1 file")]
    assert files(html) == [
        ("plots/diagram.svg", "", "27 B"),
        ("plots/loss.png", "image", "2.0 KiB"),
    ]
    deep = portal_as(viewer).get(folder(run_id, "plots/deep")).content.decode()
    assert folders(deep) == []
    assert files(deep) == [("plots/deep/table.csv", "csv", "8 B")]
    logs = portal_as(viewer).get(folder(run_id, "logs/")).content.decode()
    assert files(logs) == [("logs/train.log", "text", "8 B")]


@pytest.mark.django_db
def test_an_empty_run_and_an_unknown_folder_say_so(portal_as, viewer, run_id):
    root = portal_as(viewer).get(folder(run_id)).content.decode()
    assert "No artifacts yet." in root
    assert "This folder is empty." in portal_as(viewer).get(folder(run_id, "nope")).content.decode()


@pytest.mark.django_db
def test_a_malformed_folder_is_not_found(portal_as, viewer, run_id):
    assert portal_as(viewer).get(folder(run_id, "a/../b")).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "status"), [("viewer", 200), ("member", 200), ("admin", 200), ("outsider", 404)]
)
def test_who_may_list(portal_as, persona, run_id, name, status):
    assert portal_as(persona[name]).get(folder(run_id)).status_code == status


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(portal_as, run_id):
    response = portal_as(None).get(folder(run_id))
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


@pytest.mark.django_db
def test_the_files_of_another_projects_run_are_not_listed(
    portal_as, member, other_project, make_run, as_member
):
    Membership.objects.create(project=other_project, user=member, role=Role.MEMBER)
    elsewhere = make_run(slug="other")
    upload(as_member, elsewhere, "secret.txt", b"x", content_type="text/plain")
    assert portal_as(member).get(folder(elsewhere)).status_code == 404


@pytest.mark.django_db
def test_the_page_loads_the_root_with_htmx(portal_as, viewer, run_id):
    html = portal_as(viewer).get(f"/projects/vision/runs/{run_id}").content.decode()
    # The files are a tab below the charts (hidden until chosen), still loaded with the page.
    assert (
        '<section id="artifacts" role="tabpanel" aria-labelledby="tab-artifacts" tabindex="0" '
        "hidden>" in html
    )
    assert (
        f'<div class="artifact-tree" hx-get="/projects/vision/runs/{run_id}/artifacts" '
        'hx-trigger="load"' in html
    )


@pytest.mark.django_db
def test_a_session_downloads_and_previews_what_the_page_links(portal_as, viewer, run_id, artifacts):
    client = portal_as(viewer)
    log = artifacts["logs/train.log"]["id"]
    inline = client.get(f"/api/v1/artifacts/{log}/download?inline=true", follow=True)
    assert inline.status_code == 200
    assert b"".join(inline.streaming_content) == b"epoch 1\n"
    assert inline["Content-Type"] == "text/plain; charset=utf-8"
    page = artifacts["report.html"]["id"]
    download = client.get(f"/api/v1/artifacts/{page}/download?inline=true", follow=True)
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")


@pytest.mark.django_db
def test_an_artifact_path_is_escaped(portal_as, viewer, as_member, run_id):
    upload(as_member, run_id, f"{XSS}.txt", b"x", content_type="text/plain")
    root = portal_as(viewer).get(folder(run_id)).content.decode()
    assert "<script>alert(1)" not in root
    assert '<li class="folder" data-path="&lt;script&gt;alert(1)&lt;">' in root
    assert '<span class="name">&lt;script&gt;alert(1)&lt;/</span>' in root
    inner = portal_as(viewer).get(folder(run_id, "%3Cscript%3Ealert(1)%3C")).content.decode()
    assert "<script>alert(1)" not in inner
    assert (
        '<li class="file" data-path="&lt;script&gt;alert(1)&lt;/script&gt;.txt" '
        'data-preview="text" data-size="1">' in inner
    )
    assert '<span class="name">script&gt;.txt</span>' in inner
