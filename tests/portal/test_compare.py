"""The compare page: who may open it, which selections it refuses and how, the
parameter diff, the data it embeds for its charts, its query count and escaping."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.portal.views.compare import PALETTE
from apps.runs.models import MetricPoint, MetricSummary, Param, Run
from apps.runs.validation.batch import number_or_none

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
XSS = "<script>alert(1)</script>"


def make(project, name: str, *, status: str = "FINISHED", params=None, metrics=None) -> Run:
    """A run with params ({key: text}) and metric last values ({key: float | None})."""
    run = Run.objects.create(project=project, name=name, status=status)
    Param.objects.bulk_create(
        Param(run=run, key=key, value=value, value_num=number_or_none(value))
        for key, value in (params or {}).items()
    )
    MetricSummary.objects.bulk_create(
        MetricSummary(
            run=run,
            key=key,
            last=last,
            last_step=10,
            min=last,
            max=last,
            count=11,
            last_timestamp=T0,
        )
        for key, last in (metrics or {}).items()
    )
    return run


def url(*runs) -> str:
    ids = [r if isinstance(r, str) else r.public_id for r in runs]
    return "/projects/vision/compare?" + urlencode([("runs", i) for i in ids])


def embedded(response) -> dict:
    html = response.content.decode()
    found = re.search(
        r'<script id="compare-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "the page embeds no compare-data"
    return json.loads(found.group(1))


def main(response) -> str:
    """The page's <main> (the rest holds a per-request CSRF token)."""
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


class DiffRows(HTMLParser):
    """{data-key: class} of the body rows of table#param-diff."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, str] = {}
        self.in_table = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "param-diff":
            self.in_table = True
        elif tag == "tr" and self.in_table and "data-key" in attrs:
            self.rows[attrs["data-key"]] = attrs.get("class") or ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False


def diff_rows(response) -> dict[str, str]:
    parser = DiffRows()
    parser.feed(response.content.decode())
    return parser.rows


@pytest.fixture
def pair(project):
    return (
        make(project, "alpha", params={"lr": "0.1"}, metrics={"loss": 0.5}),
        make(project, "beta", status="RUNNING", params={"lr": "0.01"}, metrics={"loss": 0.25}),
    )


# ---- who may open it -------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("viewer", 200), ("member", 200), ("admin", 200), ("staff", 200), ("outsider", 404)],
)
def test_readers_of_the_project_open_it_and_outsiders_get_a_404(
    who, status, persona, portal_as, pair
):
    response = portal_as(persona[who]).get(url(*pair))
    assert response.status_code == status
    if status == 200:
        assert response.templates[0].name == "portal/compare.html"
    else:
        assert response.templates[0].name == "404.html"


def test_anonymous_is_sent_to_sign_in(portal_as, pair):
    path = url(*pair)
    response = portal_as(None).get(path)
    assert response.status_code == 302
    assert response["Location"] == "/login?" + urlencode({"next": path}, safe="/")


def test_the_header_lists_each_run_with_its_link_badge_and_colour(viewer, portal_as, pair):
    alpha, beta = pair
    response = portal_as(viewer).get(url(beta, alpha))
    html = response.content.decode()
    header = html[html.index('<ul class="compare-runs">') : html.index("</ul>")]
    items = re.findall(r'<li data-run="([0-9a-f]{32})">(.*?)</li>', header, re.S)
    assert [run_id for run_id, _ in items] == [beta.public_id, alpha.public_id]
    first, second = items[0][1], items[1][1]
    assert f'style="background:{PALETTE[0]}"' in first
    assert f'<a href="/projects/vision/runs/{beta.public_id}">beta</a>' in first
    assert '<span class="badge RUNNING">running</span>' in first
    assert f'style="background:{PALETTE[1]}"' in second
    assert f'<a href="/projects/vision/runs/{alpha.public_id}">alpha</a>' in second
    assert '<span class="badge FINISHED">finished</span>' in second
    # Two runs are the minimum: none of them can be removed.
    assert "remove</a>" not in header


def test_with_three_runs_each_can_be_removed_by_a_link_naming_the_other_two(
    viewer, portal_as, project, pair
):
    alpha, beta = pair
    gamma = make(project, "gamma")
    response = portal_as(viewer).get(url(alpha, beta, gamma))
    html = response.content.decode()
    expected = "?" + urlencode([("runs", alpha.public_id), ("runs", gamma.public_id)])
    assert f'href="{expected.replace("&", "&amp;")}"' in html
    assert html.count(">remove</a>") == 3


# ---- selections it refuses -------------------------------------------------


def _refused(response, message: str) -> None:
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(r'<div class="card" id="compare-error" role="alert">(.*?)</div>', html, re.S)
    assert error, "no error block on the page"
    assert f"<strong>{message}</strong>" in error.group(1)
    assert 'id="compare-data"' not in html


def test_one_run_is_refused(viewer, portal_as, pair):
    response = portal_as(viewer).get(url(pair[0]))
    _refused(
        response,
        "Choose at least 2 runs to compare; this link names 1. Select them in the runs table.",
    )


def test_no_run_at_all_is_refused(viewer, portal_as, project):
    response = portal_as(viewer).get("/projects/vision/compare")
    _refused(
        response,
        "Choose at least 2 runs to compare; this link names 0. Select them in the runs table.",
    )


def test_the_same_run_twice_counts_once(viewer, portal_as, pair):
    response = portal_as(viewer).get(url(pair[0], pair[0]))
    _refused(
        response,
        "Choose at least 2 runs to compare; this link names 1. Select them in the runs table.",
    )


def test_twenty_one_runs_are_refused(viewer, portal_as, project):
    runs = [make(project, f"r{i}") for i in range(21)]
    response = portal_as(viewer).get(url(*runs))
    _refused(
        response,
        "At most 20 runs can be compared at once; this link names 21. Select 20 or fewer.",
    )


def test_a_run_of_another_project_is_not_found_in_this_one(viewer, portal_as, pair, other_project):
    foreign = make(other_project, "foreign")
    response = portal_as(viewer).get(url(pair[0], foreign))
    _refused(response, f"Run “{foreign.public_id}” not found in this project.")


def test_a_deleted_run_is_not_found(viewer, portal_as, pair):
    pair[1].deleted_at = timezone.now()
    pair[1].save(update_fields=["deleted_at"])
    response = portal_as(viewer).get(url(*pair))
    _refused(response, f"Run “{pair[1].public_id}” not found in this project.")


def test_unknown_and_foreign_ids_get_the_same_answer(viewer, portal_as, pair, other_project):
    """Nothing says that an id exists elsewhere: only the id in the message differs."""
    foreign = make(other_project, "foreign")
    unknown = "f" * 32
    a = main(portal_as(viewer).get(url(pair[0], foreign)))
    b = main(portal_as(viewer).get(url(pair[0], unknown)))
    assert "not found in this project" in a
    assert a.replace(foreign.public_id, "ID") == b.replace(unknown, "ID")


def test_every_missing_id_is_named_and_a_long_one_is_cut(viewer, portal_as, pair):
    long_id = "x" * 100
    response = portal_as(viewer).get(url(pair[0], "nope", long_id))
    _refused(response, f"Runs “nope”, “{'x' * 40}” not found in this project.")


# ---- the parameter diff ----------------------------------------------------


def test_the_param_diff_marks_exactly_the_rows_that_differ(viewer, portal_as, project):
    a = make(project, "a", params={"lr": "0.1", "opt": "adam", "seed": "1", "only_a": "x"})
    b = make(project, "b", params={"lr": "0.1", "opt": "sgd", "seed": "1"})
    c = make(project, "c", params={"lr": "0.1", "opt": "adam", "seed": "2"})
    response = portal_as(viewer).get(url(a, b, c))
    assert diff_rows(response) == {
        "lr": "",
        "only_a": "differs",
        "opt": "differs",
        "seed": "differs",
    }
    html = response.content.decode()
    assert html.count('<span class="sr-only">differs: </span>') == 3
    assert "3 of 4 parameters differ, marked ≠ and highlighted." in html
    assert '<input type="checkbox" id="only-differing" aria-controls="param-diff">' in html


def test_a_param_one_run_lacks_shows_as_not_set(viewer, portal_as, project):
    a = make(project, "a", params={"only_a": "x"})
    b = make(project, "b")
    html = portal_as(viewer).get(url(a, b)).content.decode()
    row = re.search(r'<tr data-key="only_a" class="differs">(.*?)</tr>', html, re.S).group(1)
    assert row.endswith(
        '<td>x</td><td><span class="muted" aria-hidden="true">—</span>'
        '<span class="sr-only">not set</span></td>\n    '
    )


def test_runs_without_params_or_metrics_say_so(viewer, portal_as, project):
    response = portal_as(viewer).get(url(make(project, "a"), make(project, "b")))
    html = response.content.decode()
    assert response.status_code == 200
    assert "None of these runs has logged a parameter." in html
    assert "None of these runs has logged a metric yet" in html
    assert '<table id="param-diff">' not in html
    assert 'class="chart"' not in html
    # The containers the charts draw into are there whatever the data.
    assert '<div id="summary-bars"' in html and '<div id="parallel"' in html


# ---- the embedded data -----------------------------------------------------


def test_the_page_embeds_exactly_the_series_the_charts_draw(viewer, portal_as, project):
    a = make(
        project,
        "a",
        params={"lr": "0.1", "opt": "adam", "seed": "1"},
        metrics={"loss": 0.5, "acc": None},  # a last value of NaN is stored as NULL
    )
    b = make(
        project,
        "b",
        status="RUNNING",
        params={"lr": "1e-2", "opt": "adam", "bs": "32"},
        metrics={"loss": 0.25, "val": math.inf},
    )
    response = portal_as(viewer).get(url(b, a))
    assert embedded(response) == {
        "runs": [
            {
                "id": b.public_id,
                "name": "b",
                "label": f"b ({b.public_id[:8]})",
                "status": "RUNNING",
                "color": PALETTE[0],
                "url": f"/projects/vision/runs/{b.public_id}",
                "history_url": f"/api/v1/runs/{b.public_id}/metrics/history",
            },
            {
                "id": a.public_id,
                "name": "a",
                "label": f"a ({a.public_id[:8]})",
                "status": "FINISHED",
                "color": PALETTE[1],
                "url": f"/projects/vision/runs/{a.public_id}",
                "history_url": f"/api/v1/runs/{a.public_id}/metrics/history",
            },
        ],
        "metric_keys": ["acc", "loss", "val"],
        "last": {"acc": [None, "NaN"], "loss": [0.25, 0.5], "val": ["Infinity", None]},
        "differing_params": [
            {"key": "bs", "values": ["32", None], "numbers": None},
            {"key": "lr", "values": ["1e-2", "0.1"], "numbers": [0.01, 0.1]},
            {"key": "seed", "values": [None, "1"], "numbers": None},
        ],
    }
    html = response.content.decode()
    charts = re.findall(r'<div class="chart" data-key="([^"]*)">', html)
    assert charts == ["acc", "loss", "val"]
    assert '<option value="acc" selected>acc</option>' in html
    assert html.count("<option ") == 3


def test_a_param_numeric_in_one_run_and_text_in_another_is_categorical(viewer, portal_as, project):
    a = make(project, "a", params={"lr": "0.1"})
    b = make(project, "b", params={"lr": "auto"})
    assert embedded(portal_as(viewer).get(url(a, b)))["differing_params"] == [
        {"key": "lr", "values": ["0.1", "auto"], "numbers": None}
    ]


def test_the_history_urls_answer_the_page_user(viewer, portal_as, project, pair):
    """The overlays fetch each run's history with the portal's session."""
    MetricPoint.objects.bulk_create(
        MetricPoint(run=pair[0], key="loss", step=step, value=1.0 / (step + 1), timestamp=T0)
        for step in range(3)
    )
    client = portal_as(viewer)
    history_url = embedded(client.get(url(*pair)))["runs"][0]["history_url"]
    response = client.get(history_url, {"key": "loss", "max_points": 1000})
    assert response.status_code == 200
    assert [p["step"] for p in response.json()["results"]] == [0, 1, 2]


# ---- queries ---------------------------------------------------------------


def test_twenty_runs_with_fifty_params_take_as_many_queries_as_two(
    viewer, portal_as, project, django_assert_max_num_queries
):
    runs = [
        make(
            project,
            f"run-{i}",
            params={f"p{k:02d}": str(i * k) for k in range(50)},
            metrics={f"m{k}": float(i + k) for k in range(10)},
        )
        for i in range(20)
    ]
    client = portal_as(viewer)
    with CaptureQueriesContext(connection) as two:
        assert client.get(url(*runs[:2])).status_code == 200
    # Session, user, project, role; then the runs, their params, their metrics.
    with django_assert_max_num_queries(7):
        response = client.get(url(*runs))
    assert response.status_code == 200
    assert len(diff_rows(response)) == 50
    with CaptureQueriesContext(connection) as twenty:
        client.get(url(*runs))
    assert len(twenty) == len(two)


# ---- escaping --------------------------------------------------------------


def test_a_script_in_a_run_name_a_param_and_a_key_stays_text(viewer, portal_as, project):
    a = make(project, XSS, params={XSS: XSS, "lr": "1"}, metrics={XSS: 1.0})
    b = make(project, "plain", params={XSS: "safe", "lr": "2"}, metrics={XSS: 2.0})
    response = portal_as(viewer).get(url(a, b))
    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    block = re.search(
        r'<script id="compare-data" type="application/json">(.*?)</script>', html, re.S
    ).group(1)
    assert "<script>alert(1)" not in block
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in block
    data = embedded(response)
    assert data["runs"][0]["name"] == XSS
    assert data["metric_keys"] == [XSS]
    assert data["differing_params"][0] == {"key": XSS, "values": [XSS, "safe"], "numbers": None}
