"""``kiroku ci report``'s CSV and TSV metrics files: headerless ``key,value`` rows,
``key,value`` under a header, and one column per metric (with or without a step)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from kiroku.ci.inputs import read_metrics_files
from kiroku.errors import InvalidInput

KEY_CHARS = "key may contain only letters, digits, '_', '-', '.', '/' and spaces"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Files are named relative to the working folder, so messages are exact."""
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8", newline="")
    return name


def metrics_error(name: str) -> str:
    with pytest.raises(InvalidInput) as info:
        read_metrics_files([name])
    return info.value.message


# --- key,value rows ------------------------------------------------------------------


def test_headerless_key_value_rows_are_points_at_step_0():
    write("m.csv", "acc,0.9\nloss, 0.3\neval/f1,1\n")

    assert read_metrics_files(["m.csv"]) == {
        "acc": [(0, 0.9)],
        "loss": [(0, 0.3)],
        "eval/f1": [(0, 1.0)],
    }


@pytest.mark.parametrize("header", ["key,value", "Metric,Value", "NAME,value"])
def test_a_key_value_header_is_not_a_metric(header):
    write("m.csv", f"{header}\nacc,0.9\nloss,0.3\n")

    assert read_metrics_files(["m.csv"]) == {"acc": [(0, 0.9)], "loss": [(0, 0.3)]}


def test_a_key_value_row_with_three_cells_names_the_line():
    write("m.csv", "acc,0.9\nloss,0.3,extra\n")

    assert metrics_error("m.csv") == "m.csv line 2: expected 2 cells (key, value), found 3"


def test_a_key_given_twice_names_both_lines():
    write("m.csv", "acc,0.9\nloss,1\nacc,0.8\n")

    assert metrics_error("m.csv") == "m.csv line 3: key 'acc' already given on line 1"


def test_a_key_value_row_that_is_not_a_number_names_line_and_key():
    write("m.csv", "key,value\nacc,0.9\nloss,high\n")

    assert metrics_error("m.csv") == "m.csv line 3: 'high' is not a number (key 'loss')"


def test_a_bad_key_in_a_row_names_the_line_and_reason():
    write("m.csv", "acc,0.9\na..b,1\n")

    assert metrics_error("m.csv") == (
        "m.csv line 2: bad key 'a..b': key must not contain '..' or start with '/'"
    )


def test_tsv_key_value_rows_are_split_on_tabs():
    write("m.tsv", "acc\t0.9\nval loss\t0.3\n")

    assert read_metrics_files(["m.tsv"]) == {"acc": [(0, 0.9)], "val loss": [(0, 0.3)]}


# --- One column per metric -----------------------------------------------------------


def test_columns_without_a_step_column_take_the_row_index_as_step():
    write("m.csv", "acc,loss\n0.5,1.0\n0.6,\n0.7,0.8\n")

    assert read_metrics_files(["m.csv"]) == {
        "acc": [(0, 0.5), (1, 0.6), (2, 0.7)],
        "loss": [(0, 1.0), (2, 0.8)],
    }


def test_a_step_column_gives_each_rows_step_in_any_case():
    write("m.csv", "acc,Step,loss\n0.5,10,1.0\n0.6,20,\n")

    assert read_metrics_files(["m.csv"]) == {
        "acc": [(10, 0.5), (20, 0.6)],
        "loss": [(10, 1.0)],
    }


def test_a_short_row_leaves_its_last_metrics_unlogged():
    write("m.csv", "step,acc,loss\n0,0.5\n1,0.6,0.9\n")

    assert read_metrics_files(["m.csv"]) == {"acc": [(0, 0.5), (1, 0.6)], "loss": [(1, 0.9)]}


def test_blank_lines_are_not_rows_but_keep_line_numbers():
    write("m.csv", "acc\n0.5\n\n0.6\n\nabc\n")

    assert metrics_error("m.csv") == "m.csv line 6: 'abc' is not a number (key 'acc')"


def test_blank_lines_do_not_count_as_steps():
    write("m.csv", "acc\n0.5\n\n0.6\n")

    assert read_metrics_files(["m.csv"]) == {"acc": [(0, 0.5), (1, 0.6)]}


def test_python_float_spellings_of_nan_and_infinity_are_numbers():
    write("m.csv", "a,b,c\nnan,inf,-Infinity\n")

    points = read_metrics_files(["m.csv"])

    assert math.isnan(points["a"][0][1])
    assert points["b"] == [(0, math.inf)]
    assert points["c"] == [(0, -math.inf)]


def test_a_dvclive_plots_tsv_drops_the_timestamp():
    write("acc.tsv", "timestamp\tstep\tacc\n1700000000\t0\t0.5\n1700000060\t1\t0.6\n")

    assert read_metrics_files(["acc.tsv"]) == {"acc": [(0, 0.5), (1, 0.6)]}


def test_a_timestamp_without_a_step_column_is_a_metric():
    write("m.csv", "timestamp,acc\n1700000000,0.5\n")

    assert read_metrics_files(["m.csv"]) == {
        "timestamp": [(0, 1700000000.0)],
        "acc": [(0, 0.5)],
    }


def test_a_value_that_is_not_a_number_names_the_line_and_key():
    write("metrics.csv", "step,acc\n0,0.5\n1,abc\n")

    assert metrics_error("metrics.csv") == "metrics.csv line 3: 'abc' is not a number (key 'acc')"


@pytest.mark.parametrize("step", ["1.5", "", "one"])
def test_a_step_that_is_not_an_integer_names_the_line(step):
    write("m.csv", f"step,acc\n0,0.5\n{step},0.6\n")

    assert metrics_error("m.csv") == f"m.csv line 3: step {step!r} is not an integer"


def test_a_step_beyond_the_servers_range_is_refused():
    write("m.csv", f"step,acc\n{2**63},0.5\n")

    assert metrics_error("m.csv") == "m.csv line 2: step 9223372036854775808 is out of range"


def test_a_row_longer_than_the_header_names_the_line():
    write("m.csv", "acc,loss\n0.5,1\n0.6,1,2\n")

    assert metrics_error("m.csv") == "m.csv line 3: 3 cells, but the header has 2 columns"


def test_a_column_without_a_name_is_refused():
    write("m.csv", "acc,,loss\n1,2,3\n")

    assert metrics_error("m.csv") == "m.csv line 1: column 2 has no name"


def test_a_column_named_twice_is_refused():
    write("m.csv", "acc,loss,acc\n1,2,3\n")

    assert metrics_error("m.csv") == "m.csv line 1: column 'acc' appears twice"


def test_two_step_columns_are_refused():
    write("m.csv", "step,STEP,acc\n1,2,3\n")

    assert metrics_error("m.csv") == "m.csv line 1: more than one step column"


def test_a_header_the_server_refuses_names_the_key_and_reason():
    write("m.csv", "acc!,loss\n1,2\n")

    assert metrics_error("m.csv") == f"m.csv line 1: bad key 'acc!': {KEY_CHARS}"


@pytest.mark.parametrize("text", ["acc,loss\n", "acc,loss\n,\n", "key,value\n"])
def test_a_header_without_values_has_no_metrics(text):
    write("m.csv", text)

    assert metrics_error("m.csv") == "metrics file 'm.csv' has no metrics"


def test_tsv_columns_are_split_on_tabs():
    write("m.tsv", "step\tacc\tloss\n0\t0.5\t1\n5\t0.6\t\n")

    assert read_metrics_files(["m.tsv"]) == {
        "acc": [(0, 0.5), (5, 0.6)],
        "loss": [(0, 1.0)],
    }
