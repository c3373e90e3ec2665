"""Integrations page, continued: rules, the comparison settings, the delivery log and
escaping (the page and its destinations are in test_integrations_page.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications.models import Delivery, Destination, Rule
from tests.notifications.helpers import rule, slack_destination
from tests.portal.integrations_helpers import PAGE, events, text


@pytest.fixture
def client(portal_as, admin, project):
    return portal_as(admin)


# ---- rules -------------------------------------------------------------------------


RULE_FORM = {
    "action": "rule_add",
    "event": "metric.threshold",
    "metric": "val/loss",
    "op": "<",
    "value": "0.25",
    "goal": "max",
    "metrics": "val/acc, val/loss",
    "tags": "team=vision\r\nowner = bob",
    "name": "resnet-*",
    "author": "",
    "branch": "main",
    "cooldown": "3600",
    "enabled": "on",
}


def test_the_admin_adds_a_threshold_rule(client, project):
    destination = slack_destination(project)
    response = client.post(PAGE, {**RULE_FORM, "destination": destination.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#rules"
    created = Rule.objects.get()
    assert (created.event, created.destination_id) == ("metric.threshold", destination.pk)
    assert created.condition == {
        "metric": "val/loss",
        "op": "<",
        "value": 0.25,
        "metrics": ["val/acc", "val/loss"],
    }
    assert created.filters == {
        "tags": {"team": "vision", "owner": "bob"},
        "name": "resnet-*",
        "branch": "main",
    }
    assert (created.cooldown_seconds, created.enabled) == (3600, True)
    assert len(events("rule.create")) == 1


def test_a_finish_rule_ignores_the_threshold_fields(client, project):
    destination = slack_destination(project)
    form = {**RULE_FORM, "event": "run.finished", "metrics": "", "tags": "", "value": "x"}
    client.post(PAGE, {**form, "destination": destination.pk})
    assert Rule.objects.get().condition == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"value": "lots"}, "condition.value must be a number"),
        ({"tags": "team"}, "write tag filters as key=value, one per line"),
        ({"cooldown": "-5"}, "cooldown must be whole seconds from 0 to 604800 (7 days)"),
        ({"destination": "999999"}, "destination must be the id of a destination of this project"),
    ],
)
def test_a_refused_rule_is_explained_inline(client, project, change, message):
    destination = slack_destination(project)
    response = client.post(PAGE, {**RULE_FORM, "destination": destination.pk, **change})
    assert response.status_code == 400
    assert f"Not added: {message}" in text(response)
    assert not Rule.objects.exists()


def test_editing_a_rule(client, project):
    destination = slack_destination(project)
    existing = rule(project, destination, "run.finished")
    form = {**RULE_FORM, "action": "rule_edit", "rule": existing.pk, "event": "run.crashed"}
    del form["enabled"]
    response = client.post(PAGE, {**form, "destination": destination.pk, "metrics": ""})
    assert response.status_code == 302
    existing.refresh_from_db()
    assert (existing.event, existing.enabled, existing.condition) == ("run.crashed", False, {})
    assert len(events("rule.update")) == 1


def test_the_edit_form_shows_the_rule(client, project):
    destination = slack_destination(project)
    existing = rule(
        project,
        destination,
        "run.new_best",
        condition={"metric": "val/acc", "goal": "min"},
        filters={"tags": {"team": "vision"}},
        cooldown_seconds=60,
    )
    html = text(client.get(PAGE))
    prefix = f"rule-{existing.pk}"
    assert '<option value="run.new_best" selected>New best run (run.new_best)</option>' in html
    assert (
        f'id="{prefix}-metric" name="metric" maxlength="250" placeholder="val/acc" value="val/acc"'
        in html
    )
    assert (
        f'<textarea id="{prefix}-tags" name="tags" rows="2" cols="24">team=vision</textarea>'
        in html
    )
    assert (
        f'id="{prefix}-cooldown" name="cooldown" min="0" max="604800" step="1" size="8" value="60"'
        in html
    )


def test_removing_a_rule(client, project):
    existing = rule(project, slack_destination(project), "run.finished")
    response = client.post(PAGE, {"action": "rule_delete", "rule": existing.pk})
    assert response.status_code == 302
    assert not Rule.objects.exists()


# ---- comparison settings -----------------------------------------------------------


def test_the_admin_sets_the_comparison(client, project):
    response = client.post(
        PAGE,
        {
            "action": "comparison",
            "baseline_mode": "best",
            "baseline_metric": "val/acc",
            "baseline_goal": "max",
            "baseline_branch": "ignored",
            "baseline_run": "",
            "primary_metrics": "val/acc, val/loss,",
        },
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.baseline == {"mode": "best", "metric": "val/acc", "goal": "max"}
    assert project.primary_metrics == ["val/acc", "val/loss"]
    assert len(events("settings.update")) == 1
    html = text(client.get(PAGE))
    assert '<option value="best" selected>best</option>' in html
    assert 'value="val/acc, val/loss"' in html


def test_no_baseline(client, project):
    project.baseline = {"mode": "branch", "branch": "main"}
    project.save()
    client.post(PAGE, {"action": "comparison", "baseline_mode": "", "primary_metrics": ""})
    project.refresh_from_db()
    assert (project.baseline, project.primary_metrics) == ({}, [])


def test_a_pinned_run_of_another_project_is_refused_inline(client, project):
    response = client.post(
        PAGE, {"action": "comparison", "baseline_mode": "pinned", "baseline_run": "0" * 32}
    )
    assert response.status_code == 400
    assert "Not saved: baseline.run must be a run of this project" in text(response)


# ---- the delivery log and hostile text ---------------------------------------------


def test_the_log_shows_the_newest_fifty(client, project):
    destination = slack_destination(project)
    start = timezone.now() - timedelta(hours=2)
    for n in range(52):
        Delivery.objects.create(
            project=project,
            destination=destination,
            event_type="run.finished",
            idempotency_key=f"k{n}",
            status="failed" if n == 51 else "sent",
            attempts=n % 8 + 1,
            last_error="channel_not_found" if n == 51 else "",
            remote_id=f"1767268800.{n:06d}",
            created_at=start + timedelta(minutes=n),
        )
    html = text(client.get(PAGE))
    rows = re.findall(r'<tr data-delivery="(\d+)">', html)
    newest = list(Delivery.objects.order_by("-created_at").values_list("pk", flat=True)[:50])
    assert [int(r) for r in rows] == newest
    assert "<code>channel_not_found</code>" in html
    assert "<code>1767268800.000051</code>" in html
    assert "1767268800.000001" not in html
    assert "the API lists older ones" in html


HOSTILE = '<script>alert("x")</script>'


def test_hostile_text_is_escaped(client, project):
    destination = slack_destination(project)
    Destination.objects.filter(pk=destination.pk).update(
        name=HOSTILE, broken_at=timezone.now(), broken_reason=HOSTILE
    )
    rule(
        project, destination, "run.finished", filters={"name": HOSTILE, "tags": {HOSTILE: HOSTILE}}
    )
    Delivery.objects.create(
        project=project,
        destination=destination,
        event_type="run.finished",
        idempotency_key="k",
        last_error=HOSTILE,
        remote_id=HOSTILE,
    )
    html = text(client.get(PAGE))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
