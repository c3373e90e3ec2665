"""``IN`` with as many values as the parser allows compiles to single SQL ``IN``s (a
thousand nested ORs are deeper than SQLite parses), with the README's semantics:
numeric params compare as numbers with numeric literals and as text otherwise, and a
run lacking the key never matches, ``NOT IN`` included."""

from __future__ import annotations

import pytest

from apps.runs.search import MAX_VALUES

URL = "/api/v1/projects/vision/runs"


@pytest.fixture
def param_runs(make_run) -> dict[str, str]:
    """Runs named for their ``x`` param; ``none`` has no ``x``."""
    values = {"seven": "7", "seven-point-oh": "7.0", "text": "abc", "other": "12345"}
    ids = {name: make_run(name=name, params={"x": value}) for name, value in values.items()}
    ids["none"] = make_run(name="none", params={"y": "7"})
    return ids


def matched(api, filter_text: str) -> set[str]:
    response = api.get(URL, {"filter": filter_text, "page_size": 1000})
    assert response.status_code == 200, response.content
    return {run["name"] for run in response.json()["results"]}


def values(numbers: range, *extra: str) -> str:
    return ", ".join([*(str(n) for n in numbers), *extra])


@pytest.mark.django_db
def test_in_with_the_most_values_allowed_matches_numbers_as_numbers(as_member, param_runs):
    # 0..998 and 'abc': the numeric params 7 and 7.0 match 7; 'abc' matches as text.
    assert MAX_VALUES == 1000
    text = "params.x in (" + values(range(999), "'abc'") + ")"
    assert matched(as_member, text) == {"seven", "seven-point-oh", "text"}


@pytest.mark.django_db
def test_not_in_with_the_most_values_allowed_never_matches_runs_without_the_key(
    as_member, param_runs
):
    text = "params.x not in (" + values(range(999), "'abc'") + ")"
    assert matched(as_member, text) == {"other"}


@pytest.mark.django_db
def test_numeric_literals_match_numbers_as_numbers_and_text_params_by_their_text(
    as_member, make_run
):
    make_run(name="huge", params={"x": "1e999"})  # too large to be a number: text
    make_run(name="thousand", params={"x": "1e3"})  # the number 1000
    make_run(name="word", params={"x": "1000x"})
    text = "params.x in (" + values(range(998), "1e999", "'1000'") + ")"
    assert matched(as_member, text) == {"huge", "thousand"}


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["metrics.acc", "tags.team", "name", "datasets.name"])
def test_other_fields_take_the_most_values_allowed_too(as_member, run_id, prefix):
    literals = (
        values(range(1000))
        if prefix == "metrics.acc"
        else ", ".join(f"'v{i}'" for i in range(1000))
    )
    response = as_member.get(URL, {"filter": f"{prefix} not in ({literals})"})
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_one_value_past_the_limit_is_a_400(as_member):
    response = as_member.get(URL, {"filter": f"params.x in ({values(range(1001))})"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "filter")
