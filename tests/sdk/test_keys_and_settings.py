"""The client's copy of the server's rules (the shared key table), value encoding, and
where settings come from. No server needed."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path

import pytest
from kiroku import keys
from kiroku.errors import ConfigError
from kiroku.settings import (
    Settings,
    credentials_path,
    credentials_read,
    credentials_write,
    settings_resolve,
)

TABLE = json.loads((Path(__file__).parents[1] / "fixtures" / "keys.json").read_text())


@pytest.mark.parametrize("key", TABLE["valid"])
def test_valid_key_is_accepted_unchanged(key):
    assert keys.key_clean(key) == (key, None)


@pytest.mark.parametrize("key", TABLE["invalid"])
def test_invalid_key_is_refused_with_a_reason(key):
    clean, reason = keys.key_clean(key)
    assert clean is None
    assert reason


@pytest.mark.parametrize(("given", "stored"), TABLE["normalised"])
def test_key_is_nfc_normalised(given, stored):
    assert keys.key_clean(given) == (stored, None)


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (0.5, 0.5),
        (3, 3),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (2**60, float(2**60)),
        (True, None),
        ("1.0", None),
        (None, None),
        ([1.0], None),
    ],
)
def test_number_encoding_matches_the_server(value, sent):
    assert keys.number_encode(value) == sent


def test_scalars_that_know_their_value_are_numbers():
    class Tensor:  # what numpy scalars and 0-d torch tensors look like
        def __init__(self, value):
            self.value = value

        def item(self):
            return self.value

    assert keys.number_encode(Tensor(0.25)) == 0.25
    assert keys.number_encode(Tensor(math.nan)) == "NaN"
    assert keys.number_encode(Tensor(True)) is None


def test_nested_config_is_flattened_to_dotted_params():
    assert keys.flatten({"optim": {"lr": 1e-3, "betas": [0.9]}, "seed": 1, "empty": {}}) == {
        "optim.lr": 1e-3,
        "optim.betas": [0.9],
        "seed": 1,
        "empty": {},
    }


def test_param_text_is_what_the_server_stores():
    assert keys.text_value(3e-4, max_length=10) == ("0.0003", None)
    assert keys.text_value({"b": 1, "a": [1, 2]}, max_length=100) == ('{"a":[1,2],"b":1}', None)
    assert keys.text_value("x" * 11, max_length=10)[1] == "value is longer than 10 characters"


def test_summary_values_travel_as_strict_json():
    assert keys.summary_value({"best": math.nan, "list": (1, 2)}) == (
        {"best": "NaN", "list": [1, 2]},
        None,
    )
    assert keys.summary_value(object())[0] is None


# -- settings ------------------------------------------------------------------------


def test_arguments_beat_environment_beat_the_credentials_file(monkeypatch):
    credentials_write("http://from-file:8000", "krk_file")
    assert settings_resolve().url == "http://from-file:8000"
    assert settings_resolve().token == "krk_file"
    monkeypatch.setenv("KIROKU_URL", "http://from-env:8000/api/v1/")
    monkeypatch.setenv("KIROKU_TOKEN", "krk_env")
    assert (settings_resolve().url, settings_resolve().token) == ("http://from-env:8000", "krk_env")
    chosen = settings_resolve(url="https://from-arg", token="krk_arg")
    assert (chosen.url, chosen.token) == ("https://from-arg", "krk_arg")


def test_project_mode_and_dir_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KIROKU_PROJECT", "nlp")
    monkeypatch.setenv("KIROKU_MODE", "OFFLINE")
    monkeypatch.setenv("KIROKU_DIR", str(tmp_path / "k"))
    chosen = settings_resolve()
    assert (chosen.project, chosen.mode, chosen.dir) == ("nlp", "offline", tmp_path / "k")
    assert settings_resolve(project="cv", mode="disabled").mode == "disabled"


def test_tuning_values_come_from_the_base_settings():
    base = Settings(flush_interval=0.1, heartbeat_interval=5)
    chosen = settings_resolve(url="http://x", base=base)
    assert (chosen.flush_interval, chosen.heartbeat_interval, chosen.url) == (0.1, 5, "http://x")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"mode": "sometimes"}, "mode must be one of"), ({"url": "ftp://x"}, "http:// or https://")],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        settings_resolve(**kwargs)


def test_credentials_file_is_private(tmp_path):
    path = credentials_write("http://x:1", "krk_secret")
    assert path == credentials_path() == tmp_path / "config" / "kiroku" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials_read() == {"url": "http://x:1", "token": "krk_secret"}


def test_a_credentials_file_readable_by_others_is_warned_about(caplog):
    path = credentials_write("http://x:1", "krk_secret")
    path.chmod(0o644)
    credentials_read()
    assert "readable by other users" in caplog.text
