"""The issue's "done when", in a real browser: an admin connects a Slack channel and a
Notion database, asks for "notify on finish and on crash, compare with the best run by
val/acc", and from then on each finished or crashed run gives exactly one Slack
message and one Notion page with the comparison (the real slack_sdk and
notion_client against the loopback fakes; tasks in-process as in the embedded
default)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.notifications.models import Delivery
from apps.runs.models import Run
from tests.browser.conftest import give_password, sign_in

pytestmark = pytest.mark.browser


def add_destination(page, kind: str, name: str, target: str, token: str) -> None:
    page.locator("#new-destination-kind").select_option(kind)
    form = page.locator("#destination-add")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Slack channel id or Notion database id").fill(target)
    form.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Add destination").click()
    expect(page.get_by_text(f"Destination “{name}” added.")).to_be_visible()


def add_rule(page, event: str, destination: str) -> None:
    page.locator("#new-rule-event").select_option(event)
    page.locator("#new-rule-destination").select_option(label=destination)
    page.get_by_role("button", name="Add rule").click()


def finish(api, run_id: str, status: str = "finished") -> None:
    assert api.post(f"/runs/{run_id}/finish", json={"status": status}).status_code == 200


def test_an_admin_connects_slack_and_notion_and_each_run_end_is_reported_once(
    page, admin, project, api, new_run, fake_slack, fake_notion, settings, shot
):
    settings.KIROKU_SLACK_MESSAGES_PER_SECOND = 1000
    give_password(admin)
    sign_in(page, admin.username)
    page.wait_for_url("**/projects")
    page.goto("/projects/vision/integrations")

    page.locator("#baseline-mode").select_option("best")
    page.locator("#baseline-metric").fill("val/acc")
    page.locator("#baseline-goal").select_option("max")
    page.locator("#comparison-form button[type=submit]").click()
    add_destination(page, "slack", "ml-runs", fake_slack.channel, fake_slack.token)
    add_destination(page, "notion", "results", fake_notion.database_id, fake_notion.token)
    for destination in ("ml-runs (Slack)", "results (Notion)"):
        add_rule(page, "run.finished", destination)
        add_rule(page, "run.crashed", destination)
    page.get_by_role("button", name="Send test message to ml-runs").click()
    expect(page.locator(".ok", has_text="Sent")).to_be_visible()
    shot(page, "integrations")

    first = new_run(name="first", metrics=[("val/acc", 0, 0.80)])
    finish(api, first)
    better = new_run(name="better", metrics=[("val/acc", 0, 0.84)])
    finish(api, better)
    lost = new_run(name="lost", metrics=[("val/acc", 0, 0.5)])
    Run.objects.filter(public_id=lost).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    from apps.runs.services import run_mark_stale_crashed

    assert run_mark_stale_crashed() == 1

    runs = [
        m
        for m in fake_slack.messages
        if (m.get("metadata") or {}).get("event_type") == "kiroku_delivery"
    ]
    assert len(runs) == 3
    assert len(fake_notion.pages) == 3
    better_message = json.dumps(runs[1], ensure_ascii=False)
    assert "better" in better_message and "+0.04 (+5.0%) ▲" in better_message
    assert "+0.04 (+5.0%) ▲" in fake_notion.page_text(fake_notion.pages[1])
    assert "Run crashed" in json.dumps(runs[2], ensure_ascii=False)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}

    page.reload()  # the page has been open all along: fetch the log anew
    expect(page.locator("#delivery-log tbody tr")).to_have_count(6)
    shot(page, "delivery-log")
