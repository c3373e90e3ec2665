"""``kiroku ci report --params``: a JSON or YAML object read as the params the server
stores (text values, nested keys joined with ``/``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from kiroku.ci.inputs import read_params_file
from kiroku.errors import InvalidInput
from kiroku.keys import MAX_PARAM_VALUE_LENGTH


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Files are named relative to the working folder, so messages are exact."""
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def params_error(name: str) -> str:
    with pytest.raises(InvalidInput) as info:
        read_params_file(name)
    return info.value.message


def test_json_params_are_text_as_the_server_stores_them():
    doc = {
        "lr": 0.001,
        "model": {"name": "resnet", "layers": [64, {"k": 3}], "pretrained": True, "extra": {}},
        "seed": 42,
        "note": None,
    }
    write("p.json", json.dumps(doc))

    assert read_params_file("p.json") == {
        "lr": "0.001",
        "model/name": "resnet",
        "model/layers": '[64,{"k":3}]',
        "model/pretrained": "True",
        "model/extra": "{}",
        "seed": "42",
        "note": "None",
    }


@pytest.mark.parametrize("name", ["params.yaml", "params.yml"])
def test_yaml_params_are_read(name):
    write(name, "train:\n  epochs: 10\n  optimizer: adam\n")

    assert read_params_file(name) == {"train/epochs": "10", "train/optimizer": "adam"}


def test_a_pathlib_path_is_accepted(tmp_path):
    write("p.json", '{"a": 1}')

    assert read_params_file(tmp_path / "p.json") == {"a": "1"}


def test_a_value_at_the_servers_limit_is_kept():
    write("p.json", json.dumps({"note": "x" * MAX_PARAM_VALUE_LENGTH}))

    assert read_params_file("p.json") == {"note": "x" * MAX_PARAM_VALUE_LENGTH}


def test_a_value_beyond_the_servers_limit_names_the_key():
    write("p.json", json.dumps({"data": {"note": "x" * (MAX_PARAM_VALUE_LENGTH + 1)}}))

    assert (
        params_error("p.json") == "p.json: param 'data/note': value is longer than 6000 characters"
    )


def test_a_key_the_server_refuses_names_the_key_and_reason():
    write("p.yaml", "a..b: 1\n")

    assert params_error("p.yaml") == (
        "p.yaml: bad key 'a..b': key must not contain '..' or start with '/'"
    )


def test_a_joined_key_that_repeats_a_flat_key_is_refused():
    write("p.json", '{"a/b": 1, "a": {"b": 2}}')

    assert params_error("p.json") == "p.json: key 'a/b' appears twice"


def test_a_top_level_that_is_not_an_object_is_refused():
    write("p.yaml", "- 1\n- 2\n")

    assert params_error("p.yaml") == "p.yaml: the top level is a list; expected an object"


def test_an_empty_object_has_no_params():
    write("p.json", "{}")

    assert params_error("p.json") == "params file 'p.json' has no params"


def test_invalid_json_names_the_line_and_column():
    write("p.json", '{\n  "lr": 0.1,\n}')

    assert params_error("p.json") == (
        "p.json line 3 column 1: invalid JSON (Expecting property name enclosed in double quotes)"
    )


@pytest.mark.parametrize("name", ["p.csv", "p.toml", "dvc.yaml.lock"])
def test_another_extension_is_refused(name):
    write(name, "a = 1\n")

    assert params_error(name) == (
        f"params file {name!r} has an unsupported extension; supported: .json, .yaml, .yml"
    )


def test_a_missing_file_is_refused():
    assert params_error("p.yaml") == "params file 'p.yaml' does not exist"


def test_a_directory_is_refused():
    Path("p.json").mkdir()

    assert params_error("p.json") == "params file 'p.json' is a directory"


def test_an_empty_file_is_refused():
    write("p.yaml", "\n\n")

    assert params_error("p.yaml") == "params file 'p.yaml' is empty"


def test_yaml_params_without_pyyaml_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    write("p.yaml", "a: 1\n")

    assert params_error("p.yaml") == "reading YAML needs PyYAML: pip install 'kiroku[ci]'"
