"""Links to the portal's run pages, built in one place (apps/runs/links.py)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from apps.runs.links import compare_path, compare_url, run_path, run_url
from apps.runs.models import Run

pytestmark = pytest.mark.django_db

RUN_ID = "51a75b8a97cc49d598c21cf641c64c34"


def test_a_run_path_is_the_portal_route():
    assert run_path("vision", RUN_ID) == reverse(
        "portal:run", kwargs={"slug": "vision", "run_id": RUN_ID}
    )
    assert run_path("vision", RUN_ID) == f"/projects/vision/runs/{RUN_ID}"


@override_settings(KIROKU_BASE_URL="https://kiroku.example")
def test_run_and_compare_urls_are_absolute(project):
    run = Run.objects.create(project=project, name="new")
    base = Run.objects.create(project=project, name="base")
    slug = project.slug
    assert run_url(run) == f"https://kiroku.example/projects/{slug}/runs/{run.public_id}"
    assert compare_url(run, base) == (
        f"https://kiroku.example/projects/{slug}/compare?runs={base.public_id}&runs={run.public_id}"
    )


def test_a_compare_path_lists_the_runs_in_order():
    assert compare_path("vision", "b", "a") == "/projects/vision/compare?runs=b&runs=a"
