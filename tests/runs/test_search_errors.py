"""The run-search filter language: what it rejects, and how it says so."""

from __future__ import annotations

import pytest

from apps.core.errors import Invalid
from apps.runs.models import Run
from apps.runs.search import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    MAX_VALUES,
    SearchSyntaxError,
    compile_filter,
    parse_filter,
    parse_order_by,
)
from tests.runs.search_world import (
    headline,
    names,
)

ERRORS = [
    (
        "metrics.acc xyz 1",
        "filter: unexpected 'xyz' at column 13 "
        "(expected =, !=, <, <=, >, >=, IN, NOT IN, LIKE or ILIKE)",
    ),
    (
        "metrics.acc > ",
        "filter: unexpected end of text at column 15 (expected a quoted string or a number)",
    ),
    (
        "metrics.acc > '0.9'",
        "filter: metrics.acc is a number and cannot be compared with string '0.9' at column 15 "
        "(write a bare number, as in metrics.acc > 0.5)",
    ),
    (
        "metrics.acc like '%9'",
        "filter: LIKE cannot be used with metrics.acc at column 13 "
        "(it allows !=, <, <=, =, >, >=, IN, NOT IN)",
    ),
    (
        "status = 1",
        "filter: status is text and cannot be compared with number 1 at column 10 "
        "(quote it: status = '1')",
    ),
    (
        "duration > '1h'",
        "filter: duration is a number of seconds and cannot be compared with string '1h' "
        "at column 12 (write a bare number, as in duration > 3600)",
    ),
    (
        "created > 'yesterday'",
        "filter: created cannot be compared with string 'yesterday' at column 11 "
        "(write an ISO-8601 time such as '2024-05-01T12:00:00Z' or epoch milliseconds)",
    ),
    (
        "params.x like 5",
        "filter: unexpected number 5 at column 15 (LIKE takes a quoted pattern such as '%resnet%')",
    ),
    ("params.x = 'abc", "filter: unterminated string at column 12 (close it with ')"),
    ("tags.`a b = 'x'", "filter: unterminated backquoted name at column 6 (close it with `)"),
    (
        "metrics. > 1",
        "filter: missing key after 'metrics.' at column 9 "
        "(write metrics.name; quote keys with other characters: metrics.`my key`)",
    ),
    ("metrics > 1", "filter: missing key after 'metrics' at column 1 (write metrics.<key>)"),
    (
        "(status = 'FAILED'",
        "filter: unexpected end of text at column 19 "
        "(expected ')' to close the '(' at column 1, or AND / OR)",
    ),
    (
        "status = 'FAILED')",
        "filter: unexpected ')' at column 18 (expected AND, OR or the end of the filter)",
    ),
    (
        "params.x in ()",
        "filter: unexpected ')' at column 14 (expected a quoted string or a number)",
    ),
    (
        "params.x in ('a' 'b')",
        "filter: unexpected string 'b' at column 18 (expected ',' or ')' in the list of values)",
    ),
    (
        "params.x not = 1",
        "filter: unexpected '=' at column 14 (expected IN, LIKE or ILIKE after NOT)",
    ),
    ("metrics.acc > 1abc", "filter: unexpected 'a' in a number at column 16"),
    ("metrics.acc > 1.2.3", "filter: unexpected '.' in a number at column 18"),
    (
        "and status = 'X'",
        "filter: unexpected keyword AND at column 1 (expected a comparison such as "
        "metrics.acc > 0.9, NOT, or '('; the left side must be an identifier)",
    ),
    (
        "'FAILED' = status",
        "filter: unexpected string 'FAILED' at column 1 (expected a comparison such as "
        "metrics.acc > 0.9, NOT, or '('; the left side must be an identifier)",
    ),
    (
        "`acc` > 1",
        "filter: unexpected backquoted name at column 1 "
        "(a backquoted key follows a prefix, as in metrics.`my key`)",
    ),
    ("status = 'X' & name = 'y'", "filter: unexpected character '&' at column 14"),
    ("name = 'a\x00b'", "filter: unexpected NUL character at column 10 (remove it)"),
    (
        "datasets.context = 'train'",
        "filter: unknown dataset field 'context' at column 1 (valid: datasets.name, "
        "datasets.digest, datasets.hash, datasets.uri, datasets.source)",
    ),
]


@pytest.mark.parametrize(("filter_text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_malformed_filter_names_the_column(filter_text, message):
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(filter_text)
    assert exc.value.field == "filter"
    assert headline(exc) == message


def test_error_message_carries_a_caret_excerpt():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("metrics.acc xyz 1")
    assert exc.value.column == 13
    assert exc.value.message.splitlines()[1:] == ["  metrics.acc xyz 1", "              ^"]


def test_caret_excerpt_of_a_long_filter_is_a_window():
    text = "status = 'FINISHED' and " * 10 + "metrics.acc ! 1"
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(text)
    position = text.index("!")
    assert exc.value.column == position + 1
    line, caret = exc.value.message.splitlines()[1:]
    assert line == "  …" + text[position - 30 :]
    assert caret.index("^") == line.index("!")


def test_unknown_attribute_lists_the_valid_ones():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("status = 'FAILED' and artifact_uri = 'x'")
    assert headline(exc) == (
        "filter: unknown attribute 'artifact_uri' at column 23 (valid: metrics.<key>, "
        "params.<key>, tags.<key>, datasets.name, datasets.digest, datasets.uri, "
        "datasets.source, or an attribute: run_id, name, status, author, group, git.branch, "
        "git.commit, client_id, created, start_time, end_time, duration)"
    )


VALID = (
    "valid: metrics.<key>, params.<key>, tags.<key>, datasets.name, datasets.digest, "
    "datasets.uri, datasets.source, or an attribute: run_id, name, status, author, group, "
    "git.branch, git.commit, client_id, created, start_time, end_time, duration"
)


def test_unknown_prefix_lists_the_valid_ones():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("met.acc > 1")
    assert headline(exc) == f"filter: unknown prefix 'met' at column 1 ({VALID})"


MISSPELT = [
    ("metricz.acc > 1", "unknown prefix 'metricz' at column 1 (did you mean `metrics.`?"),
    ("mertics.acc > 1", "unknown prefix 'mertics' at column 1 (did you mean `metrics.`?"),
    ("Metrcs.acc > 1", "unknown prefix 'Metrcs' at column 1 (did you mean `metrics.`?"),
    ("parms.lr = 'x'", "unknown prefix 'parms' at column 1 (did you mean `params.`?"),
    ("tgs.team = 'x'", "unknown prefix 'tgs' at column 1 (did you mean `tags.`?"),
    ("datset.name = 'x'", "unknown prefix 'datset' at column 1 (did you mean `datasets.`?"),
    ("gti.branch = 'x'", "unknown prefix 'gti' at column 1 (did you mean `git.branch`?"),
    ("git.brnch = 'x'", "unknown attribute 'git.brnch' at column 1 (did you mean `git.branch`?"),
    ("stauts = 'x'", "unknown attribute 'stauts' at column 1 (did you mean `status`?"),
    ("strat_time > 1", "unknown attribute 'strat_time' at column 1 (did you mean `start_time`?"),
    # An alias (created_at) is answered with the canonical name.
    ("create_at > 1", "unknown attribute 'create_at' at column 1 (did you mean `created`?"),
]


@pytest.mark.parametrize(("filter_text", "message"), MISSPELT, ids=[m[0] for m in MISSPELT])
def test_a_misspelt_prefix_or_attribute_gets_did_you_mean(filter_text, message):
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(filter_text)
    assert headline(exc) == f"filter: {message} {VALID})"


def test_a_misspelt_dataset_field_gets_did_you_mean():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("datasets.nme = 'train'")
    assert headline(exc) == (
        "filter: unknown dataset field 'nme' at column 1 (did you mean `datasets.name`? "
        "valid: datasets.name, datasets.digest, datasets.hash, datasets.uri, datasets.source)"
    )


def test_a_misspelt_sort_key_gets_did_you_mean_too():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_order_by("metrcs.acc DESC")
    assert headline(exc) == (
        f"order_by: unknown prefix 'metrcs' at column 1 (did you mean `metrics.`? {VALID})"
    )


def test_a_name_close_to_nothing_gets_no_guess():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("acc > 0.9")
    assert headline(exc) == f"filter: unknown attribute 'acc' at column 1 ({VALID})"


def test_filter_length_is_capped():
    parse_filter("name = '" + "x" * (MAX_FILTER_LENGTH - 9) + "'")
    with pytest.raises(Invalid) as exc:
        parse_filter("name = '" + "x" * (MAX_FILTER_LENGTH - 8) + "'")
    assert exc.value.field == "filter"
    assert exc.value.message == "filter is 10001 characters long; the limit is 10000"


def test_comparisons_are_capped():
    parse_filter(" or ".join(["name = 'x'"] * MAX_COMPARISONS))
    text = " or ".join(["name = 'x'"] * (MAX_COMPARISONS + 1))
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(text)
    column = len("name = 'x' or ") * MAX_COMPARISONS + 1
    assert headline(exc) == f"filter: too many comparisons at column {column} (the limit is 100)"


def test_nesting_is_capped():
    parse_filter("(" * MAX_NESTING + "name = 'x'" + ")" * MAX_NESTING)
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("(" * (MAX_NESTING + 1) + "name = 'x'" + ")" * (MAX_NESTING + 1))
    assert headline(exc) == (
        "filter: too deeply nested at column 51 (the limit is 50 levels of parentheses and NOT)"
    )
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("not " * (MAX_NESTING + 1) + "name = 'x'")
    assert headline(exc).startswith("filter: too deeply nested at column 201 ")


def test_in_list_values_are_capped():
    values = ", ".join(["'v'"] * MAX_VALUES)
    parse_filter(f"name in ({values})")
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(f"name in ({values}, 'w')")
    column = len(f"name in ({values}, ") + 1
    assert headline(exc) == (
        f"filter: too many values in IN lists at column {column} (the limit is 1000 in all)"
    )


def test_filter_must_be_text():
    with pytest.raises(Invalid) as exc:
        parse_filter(["status = 'FAILED'"])  # type: ignore[arg-type]
    assert (exc.value.field, exc.value.message) == ("filter", "filter must be a string")


INJECTIONS = [
    ("params.x = '1' or 1=1 --", "filter: unexpected number 1 at column 19 "),
    ("params.x = '1'; DROP TABLE runs_run; --", "filter: unexpected character ';' at column 15"),
    ("name = 'x' -- comment", "filter: unexpected character '-' at column 12"),
    ("name = 'x' /* */", "filter: unexpected character '/' at column 12"),
    ("name = 'x' union select 1", "filter: unexpected 'union' at column 12 "),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_text", "start"), INJECTIONS, ids=[i[0] for i in INJECTIONS])
def test_injection_attempts_are_rejected(runs, project, filter_text, start):
    with pytest.raises(SearchSyntaxError) as exc:
        names(project, filter_text)
    assert headline(exc).startswith(start)
    assert Run.objects.count() == len(runs) + 1


@pytest.mark.django_db
def test_quoted_injection_is_a_literal_sent_as_a_parameter(runs, project):
    queryset = Run.objects.filter(compile_filter(parse_filter("tags.team = 'a'' OR ''1''=''1'")))
    sql, params = queryset.query.sql_with_params()
    assert "a' OR '1'='1" in params
    assert "'1'='1'" not in sql
    assert list(queryset) == []
    assert Run.objects.count() == len(runs) + 1
