"""CI runs in the portal: the CI badge in the runs table and the run page's header,
the links to the workflow run and the pull request, and the run's CI report."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.principal import Principal
from apps.ci.models import CiReport
from apps.ci.services import ci_report_clean, ci_report_create
from apps.portal.views.run.ci import ci_badge, ci_links
from apps.portal.views.run.facts import Fact, ci_facts
from apps.runs.models import Run
from tests.portal.run_page_helpers import ESCAPED, XSS, page

pytestmark = pytest.mark.django_db

TABLE = "/projects/vision"
WORKFLOW = "https://github.com/acme/vision/actions/runs/42"
PULL = "https://github.com/acme/vision/pull/12"
CI = {
    "provider": "github",
    "repository": "acme/vision",
    "workflow_url": WORKFLOW,
    "pr": 12,
    "pr_url": PULL,
    "branch": "feature/aug",
}
JUNIT = {
    "tests": 120,
    "passed": 117,
    "failures": 2,
    "errors": 0,
    "skipped": 1,
    "failed_total": 3,
    "time": 75.5,
    "failed": ["tests/test_eval.py::test_acc", "tests/test_eval.py::test_loss"],
}


@pytest.fixture
def record(as_member, make_run):
    """``record(name, {key: value}, ci=..., branch=..., finish=...)``: a run with one
    point per metric; returns its id."""

    def build(name, metrics, *, ci=None, branch="main", finish=True) -> str:
        run_id = make_run(name=name, git={"branch": branch, "commit": "abc123"}, ci=ci or {})
        if metrics:
            body = {
                "batch_id": uuid.uuid4().hex,
                "metrics": [{"key": k, "value": v, "step": 0} for k, v in metrics.items()],
            }
            assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
        if finish:
            response = as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
            assert response.status_code == 200
        return run_id

    return build


def report(member, run_id: str, **body) -> CiReport:
    """Store a CI report on the run through the service, as the member."""
    run = Run.objects.select_related("project").get(public_id=run_id)
    created, _ = ci_report_create(
        principal=Principal(user=member), run=run, data=ci_report_clean(body)
    )
    return created


@pytest.fixture
def baseline(record) -> str:
    """main-eval: the latest finished run on main (acc 0.93, loss 0.25)."""
    return record("main-eval", {"eval/acc": 0.93, "eval/loss": 0.25})


@pytest.fixture
def ci_run(record, baseline) -> str:
    """ci-eval: a running PR run at acc 0.91, loss 0.3, with the full CI context."""
    return record("ci-eval", {"eval/acc": 0.91, "eval/loss": 0.3}, ci=CI, finish=False)


@pytest.fixture
def regressed(member, ci_run) -> str:
    report(
        member,
        ci_run,
        baseline="branch:main",
        fail_on=["eval/acc<-0.01", "eval/loss>+50%"],
        junit=JUNIT,
    )
    return ci_run


def badges(html: str) -> dict[str, str]:
    """The runs table's CI badges by run name: ``{name: '<span ...>CI</span>'}``."""
    found = re.findall(
        r'<a href="/projects/vision/runs/[0-9a-f]{32}">([^<]*)</a>( <span class="badge ci[^"]*" '
        r'title="[^"]*">[^<]*</span>)?</td>',
        html,
    )
    return {name: badge.strip() for name, badge in found}


def rows_of(tbody: str) -> list[str]:
    return [line.strip() for line in tbody.splitlines() if line.strip()]


# The runs table --------------------------------------------------------------------


def test_the_runs_table_badges_ci_runs_only(portal_as, viewer, ci_run):
    html = portal_as(viewer).get(TABLE).content.decode()
    assert badges(html) == {
        "ci-eval": '<span class="badge ci" title="CI: acme/vision · pull request #12">CI</span>',
        "main-eval": "",
    }


@pytest.mark.parametrize(
    ("fail_on", "spec", "badge"),
    [
        (
            ["eval/acc<-0.01"],
            "branch:main",
            '<span class="badge ci ci-regressed" '
            'title="CI: acme/vision · pull request #12 · regressed against its baseline">'
            "CI ✗</span>",
        ),
        (
            ["eval/acc<-0.05"],
            "branch:main",
            '<span class="badge ci ci-passed" '
            'title="CI: acme/vision · pull request #12 · passed against its baseline">'
            "CI ✓</span>",
        ),
        (
            ["eval/acc<-0.01"],
            "branch:nowhere",
            '<span class="badge ci ci-passed" '
            'title="CI: acme/vision · pull request #12 · passed (no baseline to compare with)">'
            "CI ✓</span>",
        ),
    ],
    ids=["regressed", "passed", "no-baseline"],
)
def test_the_badge_shows_the_reports_verdict(
    portal_as, viewer, member, ci_run, fail_on, spec, badge
):
    report(member, ci_run, baseline=spec, fail_on=fail_on)
    html = portal_as(viewer).get(TABLE).content.decode()
    assert badges(html)["ci-eval"] == badge
    page_html = portal_as(viewer).get(page(ci_run)).content.decode()
    assert badge.replace('<span class="', '<span id="ci-badge" class="', 1) in page_html


def test_a_branch_run_s_badge_names_the_branch(portal_as, viewer, record):
    record("nightly", {}, ci={"provider": "gitlab", "branch": "main"})
    html = portal_as(viewer).get(TABLE).content.decode()
    assert badges(html) == {
        "nightly": '<span class="badge ci" title="CI: gitlab · branch main">CI</span>'
    }


def test_ci_reports_cost_the_runs_table_no_query(portal_as, viewer, member, record):
    runs = [record(f"ci-{i}", {}, ci={"provider": "github"}, finish=False) for i in range(3)]
    client = portal_as(viewer)
    client.get(TABLE)  # the session is loaded and cached alike for both
    with CaptureQueriesContext(connection) as without:
        before = client.get(TABLE).content.decode()
    for run_id in runs:
        # A gate on a metric the run did not log is violated.
        report(member, run_id, baseline="branch:nowhere", fail_on=["acc<0"])
    with CaptureQueriesContext(connection) as with_reports:
        after = client.get(TABLE).content.decode()
    assert set(badges(before).values()) == {'<span class="badge ci" title="CI: github">CI</span>'}
    assert set(badges(after).values()) == {
        '<span class="badge ci ci-regressed" title="CI: github · regressed against its baseline">'
        "CI ✗</span>"
    }
    assert len(with_reports.captured_queries) == len(without.captured_queries)


# The run page's header and CI facts ------------------------------------------------


def test_the_header_links_the_workflow_run_and_the_pull_request(portal_as, viewer, ci_run):
    html = portal_as(viewer).get(page(ci_run)).content.decode()
    assert (
        f'<p class="ci-links" id="ci-links"><a href="{WORKFLOW}" rel="nofollow noopener">'
        f'Workflow run</a> · <a href="{PULL}" rel="nofollow noopener">Pull request #12</a></p>'
    ) in html
    assert (
        '<span id="ci-badge" class="badge ci" title="CI: acme/vision · pull request #12">CI</span>'
        in html
    )


def test_a_run_not_in_ci_has_no_badge_and_no_links(portal_as, viewer, baseline):
    html = portal_as(viewer).get(page(baseline)).content.decode()
    assert 'id="ci-badge"' not in html
    assert 'id="ci-links"' not in html
    assert 'id="ci-report"' not in html


def test_pr_and_pr_url_read_as_one_pull_request_fact(portal_as, viewer, ci_run):
    html = portal_as(viewer).get(page(ci_run)).content.decode()
    assert f'<dt>Pull request</dt><dd><a href="{PULL}" rel="nofollow noopener">12</a></dd>' in html
    assert html.count("<dt>Pull request</dt>") == 1


def test_ci_facts_fold_the_pull_request_url_into_its_number():
    assert ci_facts({"pr": 12, "pr_url": PULL, "provider": "github"}) == [
        Fact("Provider", "github"),
        Fact("Pull request", "12", PULL),
    ]
    assert ci_facts({"pr_url": PULL}) == [Fact("Pull request", PULL, PULL)]
    assert ci_facts({"pr": 3, "pr_url": "javascript:alert(1)"}) == [Fact("Pull request", "3")]


def test_only_web_urls_become_header_links():
    assert ci_links({"workflow_url": "javascript:alert(1)", "pr_url": "data:text/html,x"}) == []
    assert [link.text for link in ci_links({"workflow_url": WORKFLOW, "pr_url": PULL})] == [
        "Workflow run",
        "Pull request",
    ]


def test_a_javascript_url_is_never_a_link_on_the_page(portal_as, viewer, member, record):
    run_id = record(
        "hostile",
        {},
        ci={"workflow_url": "javascript:alert(1)", "pr": 3, "pr_url": "javascript:alert(2)"},
        finish=False,
    )
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert 'href="javascript:' not in html
    assert 'id="ci-links"' not in html
    assert "<dt>Workflow run</dt><dd>javascript:alert(1)</dd>" in html
    assert "<dt>Pull request</dt><dd>3</dd>" in html
    assert '<span id="ci-badge" class="badge ci" title="CI: pull request #3">CI</span>' in html


def test_a_badge_needs_a_value_in_the_ci_context():
    assert ci_badge({}) is None
    assert ci_badge({"ref": "", "pr": None}) is None
    assert ci_badge("not a dict") is None
    assert ci_badge({"provider": "x"}).text == "CI"


# The CI report ---------------------------------------------------------------------


def test_the_report_states_the_verdict_and_the_baseline(portal_as, viewer, baseline, regressed):
    html = portal_as(viewer).get(page(regressed)).content.decode()
    created = CiReport.objects.get(run__public_id=regressed).created_at
    assert (
        '<p id="ci-verdict" class="ci-verdict regressed"><strong>Regressed</strong> '
        f'<span class="muted">· reported <time datetime="{created.isoformat()}">'
        f"{created:%Y-%m-%d %H:%M:%S} UTC</time></span></p>"
    ) in html
    assert (
        f'<dd id="ci-baseline"><a href="/projects/vision/runs/{baseline}">'
        f"main-eval ({baseline[:8]})</a>, the latest finished run on main "
        "(<code>branch:main</code>)</dd>"
    ) in html
    assert (
        f'<a id="ci-compare" href="/projects/vision/compare?runs={baseline}&amp;runs={regressed}">'
        in html
    )
    assert html.count('href="#ci-report"') == 1


def test_the_report_lists_each_gate_with_its_reason(portal_as, viewer, regressed):
    html = portal_as(viewer).get(page(regressed)).content.decode()
    gates = re.search(r'<table id="ci-gates">.*?<tbody>(.*?)</tbody>', html, re.S)[1]
    assert rows_of(gates) == [
        '<tr class="violated"><th scope="row"><code>eval/acc&lt;-0.01</code></th>'
        '<td><span class="ci-worse">✗ violated</span></td>'
        "<td>eval/acc changed by -0.02, beyond the gate &lt; -0.01</td></tr>",
        '<tr class="held"><th scope="row"><code>eval/loss&gt;+50%</code></th>'
        '<td><span class="ci-better">✓ passed</span></td>'
        "<td>eval/loss changed by +20%, within the gate &gt; +50%</td></tr>",
    ]


def test_the_report_compares_each_metric_with_the_baseline(portal_as, viewer, regressed):
    html = portal_as(viewer).get(page(regressed)).content.decode()
    rows = re.search(r'<table id="ci-metrics">.*?<tbody>(.*?)</tbody>', html, re.S)[1]
    assert rows_of(rows) == [
        '<tr class="violated"><th scope="row">eval/acc</th><td class="num">0.93</td>'
        '<td class="num">0.91</td><td class="num">-0.02 (-2.15%)</td>'
        '<td><span class="ci-worse">worse</span> <strong class="ci-worse">gate violated</strong>'
        "</td></tr>",
        '<tr><th scope="row">eval/loss</th><td class="num">0.25</td><td class="num">0.3</td>'
        '<td class="num">+0.05 (+20.00%)</td><td><span class="ci-worse">worse</span></td></tr>',
    ]


def test_the_report_counts_the_tests_and_names_the_failing_ones(portal_as, viewer, regressed):
    html = portal_as(viewer).get(page(regressed)).content.decode()
    assert (
        '<p id="ci-tests">120 tests: 117 passed, 2 failed, 0 errors, 1 skipped, in 1m 15s.</p>'
        in html
    )
    assert (
        '<ul class="plain" id="ci-failed"><li><code>tests/test_eval.py::test_acc</code></li>'
        "<li><code>tests/test_eval.py::test_loss</code></li></ul>" in html
    )
    assert '<p class="muted" id="ci-failed-more">and 1 more failing test</p>' in html


def test_without_a_baseline_the_report_says_none_was_found(portal_as, viewer, member, ci_run):
    report(member, ci_run, baseline="branch:nowhere", fail_on=["eval/acc<-0.01"])
    html = portal_as(viewer).get(page(ci_run)).content.decode()
    assert (
        '<p id="ci-verdict" class="ci-verdict no_baseline"><strong>Passed: no baseline to '
        "compare with</strong>"
    ) in html
    assert (
        '<dd id="ci-baseline"><span class="muted">none found</span> '
        "(<code>branch:nowhere</code>)</dd>"
    ) in html
    assert 'id="ci-compare"' not in html
    assert 'id="ci-tests"' not in html
    assert (
        '<tr><th scope="row">eval/acc</th><td class="num">—</td><td class="num">0.91</td>'
        '<td class="num">—</td><td></td></tr>'
    ) in html


def test_a_deleted_baseline_is_named_but_not_linked(
    portal_as, viewer, as_admin, baseline, regressed
):
    assert as_admin.delete(f"/api/v1/runs/{baseline}").status_code == 204
    html = portal_as(viewer).get(page(regressed)).content.decode()
    assert (
        f'<dd id="ci-baseline">main-eval ({baseline[:8]}) <span class="muted">(deleted)</span>, '
        "the latest finished run on main (<code>branch:main</code>)</dd>"
    ) in html
    assert f'href="/projects/vision/runs/{baseline}"' not in html
    assert 'id="ci-compare"' not in html


def test_user_text_in_a_report_is_escaped(portal_as, viewer, member, record):
    record("base", {"acc": 1.0})
    run_id = record(XSS, {"acc": 2.0}, ci={"repository": XSS}, finish=False)
    stored = report(
        member, run_id, baseline="branch:main", fail_on=["acc<0"], junit={**JUNIT, "failed": [XSS]}
    )
    # Metric keys are validated on the way in (no "<"), so markup can only reach a
    # stored comparison some other way; the page escapes it all the same.
    stored.comparison["metrics"][0]["key"] = XSS
    stored.comparison["gates"][0]["reason"] = XSS
    stored.save(update_fields=["comparison"])
    client = portal_as(viewer)
    html = client.get(page(run_id)).content.decode()
    assert "<script>alert(1)" not in html
    assert f'<tr><th scope="row">{ESCAPED}</th><td class="num">1</td>' in html
    assert f"<td>{ESCAPED}</td></tr>" in html
    assert f'<ul class="plain" id="ci-failed"><li><code>{ESCAPED}</code></li></ul>' in html
    assert f'title="CI: {ESCAPED} · passed against its baseline">CI ✓</span>' in html
    table = client.get(TABLE).content.decode()
    assert "<script>alert(1)" not in table
    assert badges(table)[ESCAPED] == (
        f'<span class="badge ci ci-passed" title="CI: {ESCAPED} · passed against its baseline">'
        "CI ✓</span>"
    )


@pytest.mark.parametrize(("who", "status"), [("viewer", 200), ("outsider", 404)])
def test_only_readers_of_the_project_see_a_ci_run(portal_as, persona, regressed, who, status):
    response = portal_as(persona[who]).get(page(regressed))
    assert response.status_code == status
    assert ('id="ci-report"' in response.content.decode()) is (status == 200)


def test_a_shared_page_shows_no_report(client, as_member, regressed):
    # A link shows CI details only when its creator ticks them.
    response = as_member.post(f"/api/v1/runs/{regressed}/share-links", {"expires_in": 3600})
    assert response.status_code == 201
    html = client.get(urlsplit(response.json()["url"]).path).content.decode()
    assert "ci-eval" in html
    assert 'id="ci-report"' not in html
    assert 'id="ci-badge"' not in html
    assert WORKFLOW not in html
    assert "main-eval" not in html


def test_a_link_that_reveals_ci_shows_the_report_but_not_its_baseline(client, as_member, regressed):
    response = as_member.post(f"/api/v1/runs/{regressed}/share-links", {"include_ci": True})
    html = client.get(urlsplit(response.json()["url"]).path).content.decode()
    assert 'id="ci-report"' in html
    assert '<span id="ci-badge" class="badge ci ci-regressed"' in html
    assert f'<a href="{WORKFLOW}" rel="nofollow noopener">Workflow run</a>' in html
    # The baseline is another run of the project, which a run's link never shares.
    assert "main-eval" not in html
    assert 'id="ci-compare"' not in html
    assert "/projects/" not in html
    assert (
        '<dd id="ci-baseline"><span class="muted">another run of this project, not shown '
        "through this link</span>" in html
    )


def test_a_report_costs_the_run_page_one_query_for_its_baseline(
    portal_as, viewer, member, record, baseline
):
    plain = record("plain", {"eval/acc": 0.9}, ci=CI, finish=False)
    reported = record("reported", {"eval/acc": 0.9}, ci=CI, finish=False)
    report(member, reported, baseline="branch:main", fail_on=["eval/acc<-0.01"], junit=JUNIT)
    client = portal_as(viewer)
    client.get(page(plain))  # the session is loaded and cached alike for both
    with CaptureQueriesContext(connection) as without:
        client.get(page(plain))
    with CaptureQueriesContext(connection) as with_report:
        html = client.get(page(reported)).content.decode()
    assert 'id="ci-compare"' in html
    # The report comes with the run (a join); only the baseline's page is looked up.
    assert len(with_report.captured_queries) == len(without.captured_queries) + 1
