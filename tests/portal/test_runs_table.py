"""The runs table: who may see it, search, sort, pages, columns, saved views."""

from __future__ import annotations

import re

import pytest

from apps.portal.models import ColumnChoice, SavedView
from apps.runs.models import Run

URL = "/projects/vision"


@pytest.fixture
def three_runs(as_member, make_run):
    """Runs a (acc 0.9, lr 0.1), b (acc 0.5, lr 0.01), c (acc 0.7, lr 0.001), oldest first."""
    ids = {}
    for name, acc, lr in (("a", 0.9, "0.1"), ("b", 0.5, "0.01"), ("c", 0.7, "0.001")):
        run_id = make_run(name=name)
        body = {"batch_id": f"{name}-1", "metrics": [{"key": "acc", "value": acc, "step": 0}],
                "params": {"lr": lr}, "tags": {"team": "vision"}}  # fmt: skip
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
        ids[name] = run_id
    return ids


def names(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<a href="/projects/vision/runs/[0-9a-f]{32}">([^<]*)</a>', html)


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("member", 200), ("viewer", 200), ("staff", 200), ("outsider", 404)],
)
def test_who_may_see_the_runs_table(portal_as, persona, project, who, status):
    assert portal_as(persona[who]).get(URL).status_code == status


def test_an_anonymous_visitor_is_sent_to_sign_in(portal_as, project):
    response = portal_as(None).get(URL)
    assert (response.status_code, response["Location"]) == (302, "/login?next=/projects/vision")


def test_an_unknown_project_is_the_same_404_as_a_hidden_one(portal_as, outsider, project):
    hidden = portal_as(outsider).get(URL)
    missing = portal_as(outsider).get("/projects/nope")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    token = re.compile(rb'"X-CSRFToken": "[^"]+"|name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub(b"", hidden.content) == token.sub(b"", missing.content)


def test_the_newest_run_comes_first(portal_as, viewer, three_runs):
    assert names(portal_as(viewer).get(URL)) == ["c", "b", "a"]


def test_the_filter_uses_the_search_language(portal_as, viewer, three_runs):
    response = portal_as(viewer).get(URL, {"filter": "metrics.acc > 0.6"})
    assert names(response) == ["c", "a"]


def test_a_bad_filter_is_shown_with_its_column(portal_as, viewer, three_runs):
    response = portal_as(viewer).get(URL, {"filter": "metrics.acc >"})
    assert response.status_code == 400
    html = response.content.decode()
    # The message (which wraps) and the excerpt (which keeps its lines) are apart.
    assert (
        '<pre class="search-error" id="search-error"><span class="search-error-message">'
        "filter: unexpected end of text at column 14 (expected a quoted string or a number)"
        '</span>\n<span class="search-error-excerpt">  metrics.acc &gt;\n'
        "               ^</span></pre>"
    ) in html


def test_a_bad_filter_through_htmx_swaps_in_with_200(portal_as, viewer, three_runs):
    response = portal_as(viewer).get(URL, {"filter": "metrics.acc >"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "search-error" in response.content.decode()
    assert "<html" not in response.content.decode()


def test_sorting_by_a_metric_column(portal_as, viewer, three_runs):
    response = portal_as(viewer).get(
        URL, {"order_by": "metrics.`acc` ASC", "columns": "metrics.acc"}
    )
    assert names(response) == ["b", "c", "a"]


def test_a_column_header_sorts_descending_then_ascending(portal_as, viewer, three_runs):
    html = portal_as(viewer).get(URL, {"columns": "metrics.acc"}).content.decode()
    assert 'href="?filter=&amp;order_by=metrics.%60acc%60+DESC' not in html  # empty values left out
    assert 'href="?order_by=metrics.%60acc%60+DESC&amp;columns=metrics.acc"' in html
    html = (
        portal_as(viewer)
        .get(URL, {"columns": "metrics.acc", "order_by": "metrics.`acc` DESC"})
        .content.decode()
    )
    assert 'href="?order_by=metrics.%60acc%60+ASC&amp;columns=metrics.acc"' in html
    assert 'aria-sort="descending"' in html


def test_pages_follow_the_cursor(portal_as, viewer, make_run, monkeypatch):
    from apps.portal.views import runs_table

    monkeypatch.setattr(runs_table, "PAGE_SIZE", 2)
    for name in ("r1", "r2", "r3"):
        make_run(name=name)
    first = portal_as(viewer).get(URL)
    assert names(first) == ["r3", "r2"]
    cursor = re.search(r'cursor=([^"&]+)" [^>]*rel="next"', first.content.decode()).group(1)
    from urllib.parse import unquote

    second = portal_as(viewer).get(URL, {"cursor": unquote(cursor.replace("+", " "))})
    assert names(second) == ["r1"]
    assert 'rel="next"' not in second.content.decode()


def test_chosen_columns_are_shown_and_remembered_per_user_and_project(
    portal_as, viewer, member, three_runs, project
):
    html = portal_as(viewer).get(URL, {"columns": "params.lr,tags.team"}).content.decode()
    assert ">param.lr</a></th>" in html and ">tag.team</a></th>" in html
    assert ColumnChoice.objects.get(user=viewer, project=project).columns == "params.lr,tags.team"
    again = portal_as(viewer).get(URL).content.decode()
    assert ">param.lr</a></th>" in again
    assert ">acc</a></th>" not in again
    others = portal_as(member).get(URL).content.decode()
    assert ">acc</a></th>" in others  # the default: the project's (test_runs_default_columns)


def test_bad_columns_are_an_inline_error(portal_as, viewer, three_runs):
    response = portal_as(viewer).get(URL, {"columns": "weights.x"})
    assert response.status_code == 400
    assert "must be params.&lt;key&gt;, metrics.&lt;key&gt; or tags.&lt;key&gt;" in (
        response.content.decode()
    )


def test_the_column_chooser_lists_matching_keys(portal_as, viewer, three_runs):
    response = portal_as(viewer).get(f"{URL}/columns", {"q": "l", "columns": "params.lr"})
    html = response.content.decode()
    assert re.findall(r'value="([^"]+)"( checked)?', html) == [("params.lr", " checked")]


def test_a_member_saves_a_view_that_a_viewer_opens_by_url(
    portal_as, member, viewer, three_runs, project
):
    response = portal_as(member).post(
        f"{URL}/views",
        {"name": "good ones", "filter": "metrics.acc > 0.6", "order_by": "name", "columns": ""},
    )
    view = SavedView.objects.get(project=project)
    assert response["Location"] == f"{URL}?view={view.pk}"
    assert names(portal_as(viewer).get(URL, {"view": view.pk})) == ["a", "c"]


def test_a_viewer_cannot_save_a_view(portal_as, viewer, three_runs):
    response = portal_as(viewer).post(f"{URL}/views", {"name": "mine", "filter": ""})
    assert response.status_code == 403
    assert SavedView.objects.count() == 0


def test_a_view_with_a_bad_filter_is_not_saved(portal_as, member, three_runs):
    response = portal_as(member).post(f"{URL}/views", {"name": "x", "filter": "acc >"})
    assert response.status_code == 302
    assert SavedView.objects.count() == 0


def test_a_saved_view_of_another_project_is_404(portal_as, viewer, other_project, project):
    view = SavedView.objects.create(project=other_project, name="theirs")
    assert portal_as(viewer).get(URL, {"view": view.pk}).status_code == 404


def test_user_text_is_escaped_in_the_table(portal_as, viewer, make_run, as_member):
    payload = "<script>alert(1)</script>"
    run_id = make_run(name=payload)
    as_member.post(
        f"/api/v1/runs/{run_id}/log",
        {"batch_id": "x", "params": {"p": payload}, "tags": {"t": payload}},
    )
    html = portal_as(viewer).get(URL, {"columns": "params.p,tags.t"}).content.decode()
    assert payload not in html
    # the link, the checkbox's label, the param and the tag
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4


SNIPPET_CODE = 'import kiroku\nrun = kiroku.init(project="vision")\nrun.log({"loss": 0.5})'


def pre(html: str, element_id: str) -> str:
    return re.search(rf'<pre id="{element_id}">(.*?)</pre>', html, re.S).group(1)


def test_an_empty_project_teaches_kiroku_login_and_code_without_a_token(portal_as, viewer, project):
    html = portal_as(viewer).get(URL).content.decode()
    assert 'id="empty-state"' in html
    assert pre(html, "login-code") == "kiroku login --url http://testserver"
    assert pre(html, "snippet-code") == SNIPPET_CODE
    assert "<code>KIROKU_TOKEN</code>" in html
    assert "krk_" not in html  # not even a placeholder token in code


def test_the_snippet_button_writes_a_new_personal_token_into_the_login_command(
    portal_as, viewer, project
):
    html = portal_as(viewer).post(URL, HTTP_HX_REQUEST="true").content.decode()
    login = re.fullmatch(
        r"kiroku login --url http://testserver --token (krk_[A-Za-z0-9_-]+)",
        pre(html, "login-code"),
    )
    assert login is not None, pre(html, "login-code")
    assert 'data-copy="login-code"' in html
    # The Python stays token-free: no token="krk_..." to paste into a tracked script.
    assert pre(html, "snippet-code") == SNIPPET_CODE
    assert html.count(login.group(1)) == 1
    me = portal_as(None)
    response = me.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {login.group(1)}")
    assert response.json()["user"]["username"] == viewer.username


def test_deleted_runs_are_not_listed(portal_as, viewer, three_runs):
    Run.objects.filter(public_id=three_runs["b"]).update(deleted_at="2026-01-01T00:00:00Z")
    assert names(portal_as(viewer).get(URL)) == ["c", "a"]
