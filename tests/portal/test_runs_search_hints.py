"""A filter that matches nothing because it names a key no run has says so, next to
the zero results, with the closest keys the project's runs do have."""

from __future__ import annotations

import re
from html import unescape

from apps.runs.models import Run
from tests.portal.runs_table_helpers import seed

URL = "/projects/vision"


def hints(client, filter_text: str) -> list[str]:
    """The hint paragraphs' texts, tags dropped."""
    response = client.get(URL, {"filter": filter_text})
    assert response.status_code == 200
    found = re.findall(r'<p class="search-hint">(.*?)</p>', response.content.decode(), re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", text)).split()) for text in found]


def test_an_unknown_metric_is_named_with_the_closest_keys(portal_as, viewer, project):
    seed(project, "a", metrics={"eval/acc": 0.9, "eval/loss": 0.1, "train/accuracy": 0.8})
    assert hints(portal_as(viewer), "metrics.eval/accuracy > 0.5") == [
        "No run in this project has metric eval/accuracy. Closest: metrics.eval/acc, "
        "metrics.train/accuracy."
    ]


def test_a_closest_key_links_to_the_filter_with_it(portal_as, viewer, project):
    seed(project, "a", metrics={"eval/acc": 0.9})
    html = portal_as(viewer).get(
        URL, {"filter": "status = 'FINISHED' and metrics.eval/accuracy > 0.5"}
    )
    assert (
        '<a href="?filter=status+%3D+%27FINISHED%27+and+metrics.eval%2Facc+%3E+0.5" '
        'hx-get="?filter=status+%3D+%27FINISHED%27+and+metrics.eval%2Facc+%3E+0.5" '
        'hx-target="#runs-table" hx-push-url="true"><code>metrics.eval/acc</code></a>'
    ) in html.content.decode()


def test_the_same_key_of_another_kind_comes_first(portal_as, viewer, project):
    seed(project, "a", metrics={"lr_decay": 0.1}, params={"lr": "0.1"})
    assert hints(portal_as(viewer), "metrics.lr > 0") == [
        "No run in this project has metric lr. Closest: params.lr."
    ]


def test_a_key_close_to_nothing_is_still_named(portal_as, viewer, project):
    seed(project, "a", metrics={"acc": 0.9})
    assert hints(portal_as(viewer), "tags.`my team` = 'x'") == [
        "No run in this project has tag my team."
    ]


def test_a_key_some_run_has_gets_no_hint(portal_as, viewer, project):
    seed(project, "a", metrics={"acc": 0.2})
    assert hints(portal_as(viewer), "metrics.acc > 0.5") == []


def test_a_key_only_a_deleted_run_has_counts_as_missing(portal_as, viewer, project):
    gone = seed(project, "gone", metrics={"bleu": 0.3})
    seed(project, "a", metrics={"blue": 0.9})
    Run.objects.filter(pk=gone.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert hints(portal_as(viewer), "metrics.bleu > 0") == [
        "No run in this project has metric bleu. Closest: metrics.blue."
    ]


def test_another_projects_keys_are_never_suggested(portal_as, viewer, project, other_project):
    seed(other_project, "theirs", metrics={"eval/accuracy": 0.9, "eval/accuracy_top5": 1.0})
    assert hints(portal_as(viewer), "metrics.eval/accuracy > 0") == [
        "No run in this project has metric eval/accuracy."
    ]


def test_only_the_first_five_missing_keys_are_named(portal_as, viewer, project):
    seed(project, "a", metrics={"acc": 0.9})
    text = " or ".join(f"metrics.gone{i} > 0" for i in range(7))
    assert [hint.split(".")[0] for hint in hints(portal_as(viewer), text)] == [
        f"No run in this project has metric gone{i}" for i in range(5)
    ]


def test_no_hint_when_runs_match(portal_as, viewer, project):
    seed(project, "a", metrics={"acc": 0.9})
    assert hints(portal_as(viewer), "metrics.acc > 0.5 or metrics.nope > 1") == []
