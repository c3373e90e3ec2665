"""The runs table's default columns come from the project and the result set, never
from the newest run alone; a chosen or filtered-on column is always shown; "+N more"
counts what the table leaves out."""

from __future__ import annotations

import re

import pytest

from apps.portal.models import ColumnChoice
from apps.projects.models import Project
from apps.runs import keys
from tests.portal.runs_table_helpers import headers, more, rows, seed

URL = "/projects/vision"


@pytest.fixture
def history(project):
    """Three runs with acc and lr (0.1, 0.01, 0.001) and a constant seed param."""
    for name, acc, lr in (("a", 0.9, "0.1"), ("b", 0.5, "0.01"), ("c", 0.7, "0.001")):
        seed(project, name, metrics={"acc": acc}, params={"lr": lr, "seed": "1"})


def page(client, **query) -> str:
    response = client.get(URL, query)
    assert response.status_code == 200
    return response.content.decode()


def test_one_run_with_other_keys_does_not_take_over_the_columns(
    portal_as, viewer, project, history
):
    seed(project, "new", metrics={"eval/accuracy": 0.8, "train/x": 1.0})
    html = page(portal_as(viewer))
    # acc is in 3 of 4 runs, the new keys in 1 (then by key); lr varies, seed is the same
    # wherever it is set but the new run lacks it, so it varies too (less common ties by key).
    assert headers(html) == ["acc", "eval/accuracy", "train/x", "param.lr", "param.seed"]
    assert rows(html) == {
        "new": ["—", "0.8", "1", "—", "—"],
        "c": ["0.7", "—", "—", "0.001", "1"],
        "b": ["0.5", "—", "—", "0.01", "1"],
        "a": ["0.9", "—", "—", "0.1", "1"],
    }


def test_params_that_never_vary_are_left_out(portal_as, viewer, project, history):
    assert headers(page(portal_as(viewer))) == ["acc", "param.lr"]


def test_a_single_run_shows_its_params(portal_as, viewer, project):
    seed(project, "only", metrics={"loss": 0.5}, params={"lr": "0.1", "batch": "32"})
    assert headers(page(portal_as(viewer))) == ["loss", "param.batch", "param.lr"]


def test_primary_metrics_come_first_in_the_projects_order(portal_as, viewer, project, history):
    seed(project, "d", metrics={"acc": 0.1, "val/loss": 0.3, "val/acc": 0.4})
    Project.objects.filter(pk=project.pk).update(primary_metrics=["val/loss", "val/acc"])
    assert headers(page(portal_as(viewer)))[:3] == ["val/loss", "val/acc", "acc"]


def test_at_most_8_metric_and_6_param_columns_and_more_counts_the_rest(portal_as, viewer, project):
    for i in range(3):
        seed(
            project,
            f"r{i}",
            metrics={f"m{k:02d}": float(k) for k in range(12)},
            params={f"p{k:02d}": str(i) for k in range(9)},
        )
    html = page(portal_as(viewer))
    assert headers(html) == [
        *(f"m{k:02d}" for k in range(8)),
        *(f"param.p{k:02d}" for k in range(6)),
    ]
    assert more(html) == "+7 more"  # m08..m11 and p06..p08


def test_the_defaults_follow_the_filtered_result_set(portal_as, viewer, project, history):
    for i in range(2):
        seed(project, f"bert{i}", metrics={"bleu": 0.3 + i}, params={"lr": "0.1", "layers": str(i)})
    html = page(portal_as(viewer), filter="name like 'bert%'")
    assert headers(html) == ["bleu", "param.layers"]


def test_a_filtered_on_key_is_always_shown(portal_as, viewer, project, history):
    # seed is the same in every run (no default column) and no run has zzz.
    html = page(portal_as(viewer), filter="params.seed = '1' and not metrics.zzz > 1")
    assert headers(html) == ["acc", "zzz", "param.lr", "param.seed"]


def test_the_sort_key_is_always_shown(portal_as, viewer, project, history):
    html = page(portal_as(viewer), order_by="params.seed DESC")
    assert headers(html) == ["acc", "param.lr", "param.seed"]


def test_a_chosen_column_replaces_the_defaults_and_the_filter_adds_to_it(
    portal_as, viewer, project, history
):
    client = portal_as(viewer)
    assert headers(page(client, columns="params.seed")) == ["param.seed"]
    assert headers(page(client)) == ["param.seed"]  # remembered
    assert headers(page(client, filter="metrics.acc > 0.6")) == ["acc", "param.seed"]


def test_an_empty_columns_choice_goes_back_to_the_defaults(portal_as, viewer, project, history):
    client = portal_as(viewer)
    page(client, columns="params.seed")
    html = page(client, columns="")
    assert headers(html) == ["acc", "param.lr"]
    assert headers(page(client)) == ["acc", "param.lr"]
    assert ColumnChoice.objects.get(user=viewer, project=project).columns == ""


def test_links_carry_the_readers_choice_and_never_the_defaults(portal_as, viewer, project, history):
    html = page(portal_as(viewer))
    assert 'name="columns" id="columns-field" value=""' in html
    assert 'data-shown="params.lr,metrics.acc"' in html
    assert 'href="?order_by=metrics.%60acc%60+DESC"' in html
    chosen = page(portal_as(viewer), columns="params.seed")
    assert 'href="?order_by=params.%60seed%60+DESC&amp;columns=params.seed"' in chosen
    assert re.search(r'<a href="\?columns=" [^>]*>Back to the default columns</a>', chosen)


def test_sorting_and_paging_do_not_move_the_default_columns(
    portal_as, viewer, project, history, monkeypatch
):
    from apps.portal.views import runs_table

    monkeypatch.setattr(runs_table, "PAGE_SIZE", 1)
    seed(project, "d", metrics={"acc": 0.2, "other": 1.0})
    client = portal_as(viewer)
    expected = ["acc", "other", "param.lr", "param.seed"]
    assert headers(page(client)) == expected
    assert headers(page(client, order_by="name ASC")) == expected


def test_the_sample_is_the_newest_runs_of_the_result_set(
    portal_as, viewer, project, history, monkeypatch
):
    monkeypatch.setattr(keys, "SAMPLE_RUNS", 2)
    seed(project, "d", metrics={"loss": 0.2}, params={"lr": "0.5"})
    seed(project, "e", metrics={"loss": 0.1}, params={"lr": "0.5"})
    # Only d and e are read: loss is in both, acc in neither, lr the same in both.
    html = page(portal_as(viewer))
    assert headers(html) == ["loss"]
    assert more(html) == "+1 more"  # param lr


def test_more_counts_the_hidden_keys_and_opens_the_chooser(portal_as, viewer, project):
    seed(project, "only", metrics={"acc": 0.1}, params={"lr": "0.1"})
    assert more(page(portal_as(viewer))) is None
    seed(project, "two", metrics={"acc": 0.2}, params={"lr": "0.1"})
    html = page(portal_as(viewer))
    assert headers(html) == ["acc"]
    assert more(html) == "+1 more"  # lr: the same in both runs
    assert 'id="more-columns" aria-controls="chooser"' in html


def test_the_default_columns_cost_the_same_queries_for_3_runs_or_300(portal_as, viewer, project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = portal_as(viewer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    for i in range(3):
        seed(project, f"r{i}", metrics={"acc": 0.1 * i}, params={"lr": str(i)})
    few = queries()
    for i in range(3, 300):
        seed(project, f"r{i}", metrics={"acc": 0.1, f"k{i}": 1.0}, params={"lr": str(i)})
    assert queries() == few
