"""The model registry in the browser: register a run's folder from its artifacts
browser, request a promotion as a member, approve it as an admin."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.runs.models import Run
from tests.browser.conftest import sign_in_with_session
from tests.registry.helpers import artifact

pytestmark = pytest.mark.browser


def test_register_request_and_approve(signed_in_page, live_server, admin, new_run, shot):
    page = signed_in_page
    run_id = new_run(name="resnet50")
    run = Run.objects.get(public_id=run_id)
    artifact(run, "model/weights.pt", b"weights")
    artifact(run, "model/config.json", b"{}")

    page.goto(f"/projects/vision/runs/{run_id}")
    page.get_by_role("tab", name="Artifacts").click()
    page.locator("#register-model summary").click()
    page.get_by_label("Model name").fill("detector")
    page.get_by_label("Folder").fill("model/")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.locator("h1")).to_have_text("detector")
    assert page.url.endswith("/projects/vision/models/detector?version=1")
    expect(page.locator(".messages")).to_contain_text("Registered detector version 1.")

    page.get_by_label("Alias", exact=True).last.fill("champion")
    page.get_by_label("Reason").last.fill("best on val")
    page.get_by_role("button", name="Request promotion").click()
    expect(page.locator("#promotions [data-status='open']")).to_contain_text("v1 → @champion")
    shot(page, "requested")

    page.context.clear_cookies()
    sign_in_with_session(page.context, live_server.url, admin)
    page.reload()
    page.get_by_role("button", name="Approve v1 to @champion").click()
    expect(page.locator(".messages")).to_contain_text(
        "Approved: @champion now points at version 1."
    )
    expect(page.locator("tr[data-version='1']")).to_contain_text("@champion")
    expect(page.locator("#promotions [data-status='approved']")).to_be_visible()
    shot(page, "approved")
