"""Links to the portal's pages about a project's runs, built in one place.

Paths (``/projects/vision/runs/…``) are for the portal's own pages; URLs are a path
after ``KIROKU_BASE_URL``, for what is read elsewhere: API answers, CI reports, Slack
and Notion messages.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import get_script_prefix, reverse

from apps.runs.models import Run


def absolute_url(path: str) -> str:
    """``path`` on this Kiroku's public address (``KIROKU_BASE_URL``)."""
    return settings.KIROKU_BASE_URL + path


def runs_path(slug: str) -> str:
    """The runs table of project ``slug``."""
    return reverse("portal:runs", kwargs={"slug": slug})


def run_path(slug: str, run_id: str) -> str:
    """The page of run ``run_id`` (its public id) of project ``slug``: what
    ``reverse("portal:run", …)`` answers (tests/runs/test_links.py holds them equal).

    Filled in rather than reversed because a run listing builds one per run (up to
    1,000 a page), and ``reverse`` costs more than the rest of a run's JSON."""
    return f"{get_script_prefix()}projects/{slug}/runs/{run_id}"


def run_url(run: Run) -> str:
    """The run's page, absolute."""
    return absolute_url(run_path(run.project.slug, run.public_id))


def comment_url(slug: str, run_id: str, comment_id: int) -> str:
    """A comment on run ``run_id``'s page, absolute."""
    return absolute_url(f"{run_path(slug, run_id)}#comment-{comment_id}")


def compare_path(slug: str, *run_ids: str) -> str:
    """The compare page of these runs (public ids, in this order) of project ``slug``."""
    query = urlencode([("runs", run_id) for run_id in run_ids])
    return reverse("portal:compare", kwargs={"slug": slug}) + "?" + query


def compare_url(run: Run, baseline: Run) -> str:
    """The compare page of ``run`` against its ``baseline`` (the baseline first),
    absolute."""
    return absolute_url(compare_path(run.project.slug, baseline.public_id, run.public_id))
