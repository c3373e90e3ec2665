"""The delivery log over the API: the project's deliveries newest first, filtered by
status, in keyset pages; admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.cursors import cursor_encode
from apps.notifications.models import Delivery
from apps.runs.models import Run
from tests.notifications.helpers import rule, slack_destination

API = "/api/v1"
URL = f"{API}/projects/vision/deliveries"
T0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)


def iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@pytest.fixture
def destination(project):
    return slack_destination(project)


def deliver(project, destination, n: int, *, status: str = "sent", run=None, **fields) -> Delivery:
    return Delivery.objects.create(
        project=project,
        destination=destination,
        event_type="run.finished",
        idempotency_key=f"{project.pk}:{n}",
        status=status,
        run_id=run.pk if run else None,
        created_at=T0 + timedelta(minutes=n),
        **fields,
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [d["id"] for d in response.json()["results"]]


def test_a_delivery_shows_what_happened_to_it(as_admin, project, destination, member):
    run = Run.objects.create(project=project, name="resnet", author=member)
    owner = rule(project, destination, "run.finished")
    sent = deliver(
        project,
        destination,
        1,
        run=run,
        rule=owner,
        attempts=2,
        last_error="ratelimited",
        remote_id="1767268800.000100",
        sent_at=T0 + timedelta(minutes=2),
        next_attempt_at=T0 + timedelta(seconds=90),
    )
    response = as_admin.get(URL)
    assert response.json() == {
        "results": [
            {
                "id": sent.pk,
                "rule": owner.pk,
                "destination": destination.pk,
                "event": "run.finished",
                "run_id": run.public_id,
                "status": "sent",
                "attempts": 2,
                "last_error": "ratelimited",
                "remote_id": "1767268800.000100",
                "created_at": iso(T0 + timedelta(minutes=1)),
                "sent_at": iso(T0 + timedelta(minutes=2)),
                "next_attempt_at": iso(T0 + timedelta(seconds=90)),
            }
        ],
        "next": None,
    }


def test_a_purged_run_and_a_removed_rule_are_null(as_admin, project, destination, member):
    run = Run.objects.create(project=project, name="resnet", author=member)
    deliver(project, destination, 1, run=run)
    run.delete()
    [row] = as_admin.get(URL).json()["results"]
    assert (row["run_id"], row["rule"]) == (None, None)


def test_newest_first_and_only_this_projects(as_admin, project, destination, other_project):
    rows = [deliver(project, destination, n) for n in range(3)]
    deliver(other_project, slack_destination(other_project), 9)
    assert ids(as_admin.get(URL)) == [rows[2].pk, rows[1].pk, rows[0].pk]


def test_the_status_filter(as_admin, project, destination):
    deliver(project, destination, 1, status="sent")
    failed = deliver(project, destination, 2, status="failed", last_error="channel_not_found")
    deliver(project, destination, 3, status="pending")
    assert ids(as_admin.get(URL, {"status": "failed"})) == [failed.pk]


def test_an_unknown_status_is_a_400_naming_it(as_admin, project):
    response = as_admin.get(URL, {"status": "lost"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "status must be one of: pending, sending, sent, failed",
            "field": "status",
        }
    }


def test_pages_follow_the_cursor_to_the_end(as_admin, project, destination):
    rows = [deliver(project, destination, n) for n in range(5)]
    # Two rows at the same moment: the id breaks the tie, so neither is skipped.
    Delivery.objects.filter(pk=rows[3].pk).update(created_at=rows[2].created_at)
    seen, cursor = [], None
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = as_admin.get(URL, params)
        seen.append(ids(response))
        cursor = response.json()["next"]
    assert seen == [[rows[4].pk, rows[3].pk], [rows[2].pk, rows[1].pk], [rows[0].pk]]
    assert cursor is None


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": 0}, "limit", "limit must be between 1 and 200"),
        ({"limit": 201}, "limit", "limit must be between 1 and 200"),
        ({"limit": "ten"}, "limit", "limit must be an integer"),
        (
            {"cursor": "forged"},
            "cursor",
            "cursor is not one this server issued; use the `next` value as given",
        ),
        (
            {"cursor": cursor_encode({"audit_before": 5})},
            "cursor",
            "cursor belongs to another listing",
        ),
        (
            {"cursor": cursor_encode({"deliveries_before": ["yesterday", 5]})},
            "cursor",
            "cursor belongs to another listing",
        ),
    ],
)
def test_bad_paging_is_a_400_naming_the_parameter(as_admin, project, params, field, message):
    response = as_admin.get(URL, params)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid", "message": message, "field": field}}


def test_a_page_of_two_hundred(as_admin, project, destination):
    for n in range(201):
        deliver(project, destination, n)
    response = as_admin.get(URL, {"limit": 200})
    assert len(response.json()["results"]) == 200
    assert response.json()["next"] is not None


@pytest.mark.parametrize(("who", "status"), [("as_member", 403), ("as_viewer", 403)])
def test_only_admins_read_the_log(request, project, destination, who, status):
    deliver(project, destination, 1)
    response = request.getfixturevalue(who).get(URL)
    assert response.status_code == status
    assert response.json()["error"]["message"] == "this needs the admin role in project 'vision'"


def test_an_outsider_gets_the_same_404_as_for_a_missing_project(as_outsider, project):
    response = as_outsider.get(URL)
    assert response.status_code == 404
    assert response.json() == as_outsider.get(f"{API}/projects/nope/deliveries").json()
