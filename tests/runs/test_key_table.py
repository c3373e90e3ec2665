"""The server side of the key table the SDK also checks (tests/fixtures/keys.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.core.errors import Invalid
from apps.runs.validation import key_clean

TABLE = json.loads((Path(__file__).parents[1] / "fixtures" / "keys.json").read_text())


@pytest.mark.parametrize("key", TABLE["valid"])
def test_valid_key_is_accepted_unchanged(key):
    assert key_clean(key, field="k") == key


@pytest.mark.parametrize("key", TABLE["invalid"])
def test_invalid_key_is_refused(key):
    with pytest.raises(Invalid):
        key_clean(key, field="k")


@pytest.mark.parametrize(("given", "stored"), TABLE["normalised"])
def test_key_is_nfc_normalised(given, stored):
    assert key_clean(given, field="k") == stored
