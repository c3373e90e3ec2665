"""Properties of the key validator (metric, param, tag, summary and dataset keys): a key
is accepted exactly when, NFC-normalised, it is 1 to 250 letters, digits, ``_ - . /``
and spaces, holds no ``..`` and does not start with ``/``; an accepted key comes back
NFC-normalised, and a refused one gets the message of the first rule it breaks."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.core.errors import Invalid
from apps.runs.limits import MAX_KEY_LENGTH
from apps.runs.validation import key_clean

SETTINGS = settings(max_examples=400, derandomize=True, database=None, deadline=None)
PUNCTUATION = "_-./ "

LENGTH = f"key must be 1 to {MAX_KEY_LENGTH} characters"
CHARACTERS = "key may contain only letters, digits, '_', '-', '.', '/' and spaces"
PATH = "key must not contain '..' or start with '/'"


def _allowed(ch: str) -> bool:
    return ch.isalnum() or ch in PUNCTUATION


def expected_error(value: str) -> str | None:
    """The message the documented rules give for ``value``, or None if it is a key."""
    key = unicodedata.normalize("NFC", value)
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return LENGTH
    if not all(_allowed(ch) for ch in key):
        return CHARACTERS
    if ".." in key or key.startswith("/"):
        return PATH
    return None


# Mostly characters a key may hold, so that both sides of every rule are reached.
key_like = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcXYZ019_-./ "),
        st.characters(codec="utf-8"),
        st.sampled_from("é\u0301\u00e9ß\u0661²\n\t\r\x00\u200b"),
    ),
    max_size=MAX_KEY_LENGTH + 5,
)


@SETTINGS
@given(value=key_like)
@example(value="loss\n")
@example(value="e\u0301" * MAX_KEY_LENGTH)
@example(value="a" * (MAX_KEY_LENGTH + 1))
def test_a_key_is_accepted_exactly_when_it_keeps_every_rule(value):
    error = expected_error(value)
    if error is None:
        assert key_clean(value, field="key") == unicodedata.normalize("NFC", value)
    else:
        with pytest.raises(Invalid) as refused:
            key_clean(value, field="metrics[0].key")
        assert (refused.value.message, refused.value.field) == (error, "metrics[0].key")


@SETTINGS
@given(value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.text())))
def test_anything_but_text_is_refused_as_not_a_string(value):
    with pytest.raises(Invalid) as refused:
        key_clean(value, field="key")
    assert (refused.value.message, refused.value.field) == ("key must be a string", "key")
