"""The JSON parser's limits at the limit and one past it: nesting depth, integer
digits, and text that cannot be stored (apps/core/json_limits.py)."""

from __future__ import annotations

import pytest

from apps.core.errors import Invalid
from apps.core.json_limits import MAX_DEPTH, MAX_INTEGER_DIGITS
from apps.core.parsers import json_body_parse


def refusal(text: str) -> tuple[str, str | None]:
    with pytest.raises(Invalid) as refused:
        json_body_parse(text)
    return refused.value.message, refused.value.field


def nested(levels: int) -> str:
    """An object holding arrays, ``levels`` containers deep in all."""
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def test_64_levels_are_read():
    assert MAX_DEPTH == 64
    data = json_body_parse(nested(64))
    depth, value = 1, data["a"]
    while value:
        depth, value = depth + 1, value[0]
    assert depth == 63  # the innermost array is empty: 1 object + 63 arrays


def test_65_levels_are_refused_naming_the_65th():
    message, field = refusal(nested(65))
    assert "at most 64 levels" in message
    assert field == "a" + "[0]" * 63


def test_the_path_follows_keys_and_indexes_in_document_order():
    deep = "[" * 70 + "]" * 70
    text = '{"x": [1, {"y": 2}], "z": [{}, {"w": ' + deep + "}]}"
    _, field = refusal(text)
    assert field == "z[1].w" + "[0]" * 61  # levels: {} z[] {} then arrays from 4


def test_brackets_inside_strings_do_not_count():
    text = '{"a": "' + "[" * 500 + '", "b": {"c": "]]]{{{"}}'
    assert json_body_parse(text)["b"] == {"c": "]]]{{{"}


def test_an_integer_of_4300_digits_is_read():
    assert MAX_INTEGER_DIGITS == 4300
    assert json_body_parse('{"n": -' + "9" * 4300 + "}")["n"] == -int("9" * 4300)


def test_an_integer_of_4301_digits_is_refused_naming_it():
    message, field = refusal('{"m": [0, 1, ' + "9" * 4301 + "]}")
    assert "at most 4300 digits" in message
    assert field == "m[2]"


def test_a_long_decimal_is_a_float_not_an_integer():
    assert json_body_parse('{"x": 1.' + "5" * 5000 + "}")["x"] == 1.5555555555555556


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDBFF", "\\udc00", "\\uDFFF"])
def test_each_kind_of_lone_surrogate_is_refused(escape):
    message, field = refusal('{"k": ["fine", "x' + escape + 'y"]}')
    assert "lone surrogate" in message
    assert field == "k[1]"


def test_a_surrogate_in_a_key_is_named_by_its_escape():
    _, field = refusal('{"outer": {"\\ud800": 1}}')
    assert field == "outer.\\ud800"


def test_a_pair_in_the_wrong_order_is_two_lone_surrogates():
    message, field = refusal('{"k": "\\ude00\\ud83d"}')
    assert (message.split(" (")[1][:6], field) == ("\\ude00", "k")


def test_a_nul_is_still_refused():
    assert refusal('{"k": ["\\u0000"]}') == (
        "text must not contain NUL (\\u0000) characters",
        "k[0]",
    )


def test_a_top_level_array_names_its_items_by_index():
    assert refusal('[1, "\\ud800"]')[1] == "[1]"


def test_long_fractions_and_exponents_are_floats_and_the_long_integer_is_named():
    text = '{"a": [1.' + "5" * 5000 + ", 2e-" + "9" * 5000 + ", -" + "7" * 4301 + "]}"
    assert refusal(text)[1] == "a[2]"


def test_a_body_too_long_to_search_is_refused_without_a_path():
    # A million strings before the deep part: the search for where stops early.
    text = '{"a": [' + ",".join(['"x"'] * 1_000_000) + '], "b": ' + "[" * 5000 + "]" * 5000 + "}"
    assert refusal(text) == (
        "arrays and objects nest deeper than 64 levels here; a request body nests at most "
        "64 levels",
        None,
    )
