"""``kiroku ci report``'s metrics files: JSON and YAML objects, the checks every format
shares (missing, empty, unknown extension, keys), and merging several files.

CSV/TSV are in test_ci_inputs_csv.py, DVC's files in test_ci_inputs_dvc.py.
"""

from __future__ import annotations

import json
import math
import sys
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
    Path(name).write_text(text, encoding="utf-8")
    return name


def metrics_error(*names: str) -> str:
    with pytest.raises(InvalidInput) as info:
        read_metrics_files(names)
    return info.value.message


# --- JSON ----------------------------------------------------------------------------


def test_no_files_are_no_metrics():
    assert read_metrics_files([]) == {}


def test_a_flat_json_object_is_one_point_per_key_at_step_0():
    write("m.json", '{"acc": 0.9, "loss": 1}')

    points = read_metrics_files(["m.json"])

    assert points == {"acc": [(0, 0.9)], "loss": [(0, 1.0)]}
    assert type(points["loss"][0][1]) is float


def test_nested_keys_are_joined_with_a_slash_in_document_order():
    write("m.json", json.dumps({"eval": {"acc": 0.9, "per_class": {"cat": 0.8}}, "loss": 0.3}))

    points = read_metrics_files(["m.json"])

    assert list(points) == ["eval/acc", "eval/per_class/cat", "loss"]
    assert points == {"eval/acc": [(0, 0.9)], "eval/per_class/cat": [(0, 0.8)], "loss": [(0, 0.3)]}


def test_the_servers_non_finite_spellings_are_numbers():
    write("m.json", '{"a": "NaN", "b": "Infinity", "c": "-Infinity"}')

    points = read_metrics_files(["m.json"])

    assert math.isnan(points["a"][0][1])
    assert points["b"] == [(0, math.inf)]
    assert points["c"] == [(0, -math.inf)]


def test_the_nan_literal_python_json_dump_writes_is_read():
    write("m.json", json.dumps({"loss": math.nan}))

    (step, value), *_ = read_metrics_files(["m.json"])["loss"]

    assert step == 0
    assert math.isnan(value)


def test_a_dvclive_step_puts_every_value_at_that_step():
    write("metrics.json", json.dumps({"step": 7, "acc": 0.9, "eval": {"loss": 0.2}}))

    points = read_metrics_files(["metrics.json"])

    assert points == {"acc": [(7, 0.9)], "eval/loss": [(7, 0.2)]}


def test_a_step_that_is_not_an_integer_is_a_metric():
    write("m.json", '{"step": 2.5, "acc": 1}')

    assert read_metrics_files(["m.json"]) == {"step": [(0, 2.5)], "acc": [(0, 1.0)]}


def test_a_dvclive_step_beyond_the_servers_range_is_refused():
    write("m.json", json.dumps({"step": 2**63, "acc": 1}))

    assert metrics_error("m.json") == "m.json: step 9223372036854775808 is out of range"


def test_a_file_with_only_a_step_has_no_metrics():
    write("m.json", '{"step": 3}')

    assert metrics_error("m.json") == "metrics file 'm.json' has no metrics"


def test_keys_are_nfc_normalised_as_the_server_stores_them():
    write("m.json", json.dumps({"cafe\u0301": 1}))

    assert read_metrics_files(["m.json"]) == {"caf\u00e9": [(0, 1.0)]}


def test_a_pathlib_path_is_accepted(tmp_path):
    write("m.json", '{"acc": 1}')

    assert read_metrics_files([tmp_path / "m.json"]) == {"acc": [(0, 1.0)]}


def test_the_extension_is_matched_without_case():
    write("M.JSON", '{"acc": 1}')

    assert read_metrics_files(["M.JSON"]) == {"acc": [(0, 1.0)]}


def test_a_utf8_byte_order_mark_is_ignored():
    Path("m.json").write_bytes(b'\xef\xbb\xbf{"acc": 1}')

    assert read_metrics_files(["m.json"]) == {"acc": [(0, 1.0)]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "m.json: key 'eval/acc' is a boolean; expected a number or an object"),
        ("null", "m.json: key 'eval/acc' is null; expected a number or an object"),
        ("[1, 2]", "m.json: key 'eval/acc' is a list; expected a number or an object"),
        ('"high"', "m.json: 'high' is not a number (key 'eval/acc')"),
        ('"nan"', "m.json: 'nan' is not a number (key 'eval/acc')"),
    ],
)
def test_a_value_that_is_not_a_number_is_refused(value, message):
    write("m.json", f'{{"eval": {{"acc": {value}}}}}')

    assert metrics_error("m.json") == message


def test_an_integer_beyond_a_float_is_refused():
    big = "1" + "0" * 400
    write("m.json", f'{{"acc": {big}}}')

    assert metrics_error("m.json") == f"m.json: {big} is out of range (key 'acc')"


def test_invalid_json_names_the_line_and_column():
    write("m.json", '{"acc": 0.9,\n "loss": }\n')

    assert metrics_error("m.json") == "m.json line 2 column 10: invalid JSON (Expecting value)"


def test_a_top_level_that_is_not_an_object_is_refused():
    write("m.json", "[0.9]")

    assert metrics_error("m.json") == "m.json: the top level is a list; expected an object"


def test_a_key_the_server_refuses_names_the_key_and_the_reason():
    write("m.json", '{"eval": {"acc!": 1}}')

    assert metrics_error("m.json") == f"m.json: bad key 'eval/acc!': {KEY_CHARS}"


def test_a_key_with_dot_dot_is_refused():
    write("m.json", '{"a..b": 1}')

    assert metrics_error("m.json") == (
        "m.json: bad key 'a..b': key must not contain '..' or start with '/'"
    )


def test_a_joined_key_that_repeats_a_flat_key_is_refused():
    write("m.json", '{"a/b": 1, "a": {"b": 2}}')

    assert metrics_error("m.json") == "m.json: key 'a/b' appears twice"


@pytest.mark.parametrize("text", ["{}", '{"eval": {}}'])
def test_an_object_without_numbers_has_no_metrics(text):
    write("m.json", text)

    assert metrics_error("m.json") == "metrics file 'm.json' has no metrics"


# --- YAML ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["m.yaml", "m.yml"])
def test_a_yaml_object_reads_like_json(name):
    write(name, "eval:\n  acc: 0.9\n  top5: .inf\nloss: 1\n")

    points = read_metrics_files([name])

    assert points == {"eval/acc": [(0, 0.9)], "eval/top5": [(0, math.inf)], "loss": [(0, 1.0)]}


def test_a_yaml_dvclive_step_puts_every_value_at_that_step():
    write("m.yaml", "step: 4\nacc: 0.5\n")

    assert read_metrics_files(["m.yaml"]) == {"acc": [(4, 0.5)]}


def test_a_yaml_integer_key_is_joined_as_text():
    write("m.yaml", "layer:\n  3: 0.5\n")

    assert read_metrics_files(["m.yaml"]) == {"layer/3": [(0, 0.5)]}


def test_a_yaml_key_that_is_not_text_is_refused():
    write("m.yaml", "true: 1\n")

    assert metrics_error("m.yaml") == "m.yaml: key True is not a string"


def test_a_yaml_date_is_not_a_number():
    write("m.yaml", "when: 2024-01-01\n")

    assert metrics_error("m.yaml") == (
        "m.yaml: key 'when' is a date; expected a number or an object"
    )


def test_a_yaml_syntax_error_names_the_line_and_column_from_1():
    write("m.yaml", "acc: 0.9\n  loss: 1\n")

    assert metrics_error("m.yaml") == (
        "m.yaml line 2 column 7: invalid YAML (mapping values are not allowed here)"
    )


def test_yaml_without_pyyaml_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    write("m.yaml", "acc: 1\n")

    assert metrics_error("m.yaml") == "reading YAML needs PyYAML: pip install 'kiroku[ci]'"


# --- Every format --------------------------------------------------------------------


def test_a_missing_file_is_refused():
    assert metrics_error("nope.json") == "metrics file 'nope.json' does not exist"


def test_a_directory_is_refused():
    Path("d.json").mkdir()

    assert metrics_error("d.json") == "metrics file 'd.json' is a directory"


@pytest.mark.parametrize("text", ["", " \n\t\n"])
def test_an_empty_file_is_refused(text):
    write("m.csv", text)

    assert metrics_error("m.csv") == "metrics file 'm.csv' is empty"


def test_a_file_that_is_not_utf8_is_refused():
    Path("m.json").write_bytes(b'{"acc": "\xff"}')

    assert metrics_error("m.json") == "metrics file 'm.json' is not UTF-8 (byte 9)"


@pytest.mark.parametrize("name", ["m.txt", "metrics", "dvc.lock"])
def test_an_unknown_extension_lists_the_supported_ones(name):
    write(name, "acc 1\n")

    assert metrics_error(name) == (
        f"metrics file {name!r} has an unsupported extension; "
        "supported: .json, .yaml, .yml, .csv, .tsv, dvc.yaml"
    )


def test_files_are_merged_in_order():
    write("a.json", '{"acc": 0.9}')
    write("b.yaml", "loss: 0.2\n")
    write("c.csv", "step,lr\n0,0.1\n1,0.05\n")

    points = read_metrics_files(["a.json", "b.yaml", "c.csv"])

    assert points == {"acc": [(0, 0.9)], "loss": [(0, 0.2)], "lr": [(0, 0.1), (1, 0.05)]}
    assert list(points) == ["acc", "loss", "lr"]


def test_a_key_in_two_files_names_both():
    write("a.json", '{"eval": {"acc": 0.9}}')
    write("b.yaml", "eval/acc: 0.8\n")

    assert metrics_error("a.json", "b.yaml") == "metric 'eval/acc' is in both 'a.json' and 'b.yaml'"


def test_the_first_bad_file_stops_the_reading():
    write("a.json", '{"acc": 0.9}')

    assert metrics_error("a.json", "missing.yaml", "m.txt") == (
        "metrics file 'missing.yaml' does not exist"
    )
