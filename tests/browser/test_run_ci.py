"""A CI run in a browser: its badge in the runs table and on its page, the links to the
workflow run and the pull request, and the CI report's comparison table."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WORKFLOW = "https://github.com/acme/vision/actions/runs/42"
PULL = "https://github.com/acme/vision/pull/12"


@pytest.fixture
def ci_run(api, new_run) -> str:
    """ci-eval (acc 0.91), reported by its CI job against main-eval (acc 0.93) with the
    gate acc<-0.01, which it violates."""
    main = new_run(name="main-eval", git={"branch": "main"}, metrics=[("eval/acc", 0, 0.93)])
    assert api.post(f"/runs/{main}/finish", json={"status": "finished"}).status_code == 200
    run_id = new_run(
        name="ci-eval",
        git={"branch": "feature"},
        ci={"provider": "github", "repository": "acme/vision", "workflow_url": WORKFLOW,
            "pr": 12, "pr_url": PULL},
        metrics=[("eval/acc", 0, 0.91)],
    )  # fmt: skip
    body = {"baseline": "branch:main", "fail_on": ["eval/acc<-0.01"]}
    assert api.post(f"/runs/{run_id}/ci-report", json=body).status_code == 201
    return run_id


def test_a_ci_run_shows_its_badge_links_and_report(signed_in_page, ci_run, shot):
    page = signed_in_page
    page.goto("/projects/vision")
    row = page.locator("#runs tbody tr", has_text="ci-eval")
    expect(row.locator(".badge.ci")).to_have_text("CI ✗")
    plain = page.locator("#runs tbody tr", has_text="main-eval")
    expect(plain.locator(".badge.ci")).to_have_count(0)
    shot(page, "runs-table")
    row.get_by_role("link", name="ci-eval", exact=True).click()
    page.wait_for_url(f"**/projects/vision/runs/{ci_run}")

    badge = page.locator("#ci-badge")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("CI ✗")
    expect(badge).to_have_class("badge ci ci-regressed")
    links = page.locator("#ci-links")
    expect(links.get_by_role("link", name="Workflow run")).to_have_attribute("href", WORKFLOW)
    expect(links.get_by_role("link", name="Pull request #12")).to_have_attribute("href", PULL)

    report = page.locator("#ci-report")
    report.scroll_into_view_if_needed()
    expect(report.locator("#ci-verdict strong")).to_have_text("Regressed")
    table = report.locator("#ci-metrics")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr td")).to_have_text(
        ["0.93", "0.91", "-0.02 (-2.15%)", "worse gate violated"]
    )
    expect(report.locator("#ci-gates tbody tr td").first).to_have_text("✗ violated")
    shot(page, "ci-report")
