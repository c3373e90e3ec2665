"""Ingestion announces new metrics (run.metrics_updated) at most once per run per
interval: threshold rules are evaluated from it without an event per batch."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.runs.models import Run
from tests.conftest import points

pytestmark = pytest.mark.django_db


def log(client, run_id, body):
    response = client.post(f"/api/v1/runs/{run_id}/log", {"batch_id": uuid.uuid4().hex, **body})
    assert response.status_code == 200, response.json()


def announcements(run_id) -> int:
    run = Run.objects.get(public_id=run_id)
    return DomainEvent.objects.filter(type="run.metrics_updated", run_id=run.pk).count()


def test_batches_within_the_interval_are_announced_once(as_member, run_id):
    for step in range(5):
        log(as_member, run_id, {"metrics": points("loss", [step])})

    assert announcements(run_id) == 1


def test_a_batch_after_the_interval_is_announced_again(as_member, run_id, settings):
    log(as_member, run_id, {"metrics": points("loss", [0])})
    earlier = timezone.now() - timedelta(seconds=settings.KIROKU_METRICS_EVENT_INTERVAL_SECONDS + 1)
    Run.objects.filter(public_id=run_id).update(metrics_event_at=earlier)
    log(as_member, run_id, {"metrics": points("loss", [1])})

    assert announcements(run_id) == 2


def test_a_batch_without_new_points_announces_nothing(as_member, run_id):
    log(as_member, run_id, {"params": {"lr": 0.1}})
    log(as_member, run_id, {"metrics": points("loss", [0])})
    Run.objects.filter(public_id=run_id).update(metrics_event_at=None)
    log(as_member, run_id, {"metrics": points("loss", [0])})  # the same point again

    assert announcements(run_id) == 1
