"""Credentials at rest: Fernet with the keys of KIROKU_ENCRYPTION_KEY, newest first.
The first key encrypts, every key decrypts (rotation); a value no key opens is
CredentialsUnreadable; a malformed key stops start-up naming the variable."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from apps.notifications import crypto
from apps.notifications.crypto import CredentialsUnreadable
from apps.notifications.models import Destination
from config.env import env_fernet_keys

TOKEN = "xoxb-1234-5678-SuperSecretToken"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_value_round_trips(settings):
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY]
    assert crypto.decrypt(crypto.encrypt({"token": TOKEN})) == {"token": TOKEN}


def test_the_ciphertext_does_not_contain_the_token(settings):
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY]
    stored = crypto.encrypt({"token": TOKEN})
    assert TOKEN not in stored
    assert "SuperSecret" not in stored
    assert base64.urlsafe_b64encode(TOKEN.encode()).decode()[:20] not in stored


def test_a_value_encrypted_with_the_old_key_decrypts_after_rotation(settings):
    settings.KIROKU_ENCRYPTION_KEYS = [OLD_KEY]
    stored = crypto.encrypt({"token": TOKEN})
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert crypto.decrypt(stored) == {"token": TOKEN}


def test_after_rotation_new_values_are_encrypted_with_the_first_key(settings):
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    stored = crypto.encrypt({"token": TOKEN})
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY]
    assert crypto.decrypt(stored) == {"token": TOKEN}
    settings.KIROKU_ENCRYPTION_KEYS = [OLD_KEY]
    with pytest.raises(CredentialsUnreadable):
        crypto.decrypt(stored)


def test_a_value_of_an_unknown_key_is_unreadable(settings):
    settings.KIROKU_ENCRYPTION_KEYS = [OLD_KEY]
    stored = crypto.encrypt({"token": TOKEN})
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(CredentialsUnreadable) as raised:
        crypto.decrypt(stored)
    assert "KIROKU_ENCRYPTION_KEY" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("stored", ["", "not-fernet", "gAAAAABbroken"])
def test_garbage_is_unreadable(settings, stored):
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(CredentialsUnreadable):
        crypto.decrypt(stored)


def test_a_destination_stores_its_token_encrypted_with_a_masked_hint(settings, db, project):
    settings.KIROKU_ENCRYPTION_KEYS = [NEW_KEY]
    destination = Destination(project=project, kind="slack", name="x", target="C0KIROKU01")
    destination.set_credentials({"token": TOKEN})
    destination.save()
    stored = Destination.objects.values_list("credentials_encrypted", "credentials_hint").get()
    assert TOKEN not in stored[0]
    assert stored[1] == "xoxb-••••oken"
    assert Destination.objects.get().credentials == {"token": TOKEN}


@pytest.mark.parametrize(
    ("secret", "hint"),
    [
        ("xoxb-1234-5678-abcd", "xoxb-••••abcd"),
        ("xoxp-1234-5678-wxyz", "xoxp-••••wxyz"),
        ("ntn_1234567890", "••••7890"),
        ("short", "••••"),
        ("", "••••"),
    ],
)
def test_mask_keeps_the_kind_prefix_and_the_last_four_characters(secret, hint):
    assert crypto.mask(secret) == hint


def test_env_fernet_keys_reads_comma_separated_keys_in_order(monkeypatch):
    monkeypatch.setenv("KIROKU_ENCRYPTION_KEY", f"{NEW_KEY}, {OLD_KEY}")
    assert env_fernet_keys("KIROKU_ENCRYPTION_KEY") == [NEW_KEY, OLD_KEY]


def test_env_fernet_keys_is_empty_when_unset(monkeypatch):
    monkeypatch.delenv("KIROKU_ENCRYPTION_KEY", raising=False)
    assert env_fernet_keys("KIROKU_ENCRYPTION_KEY") == []


@pytest.mark.parametrize(
    "value",
    [
        "not-a-key",
        base64.urlsafe_b64encode(b"x" * 31).decode(),  # 31 bytes
        f"{NEW_KEY},tooshort",
        "é" * 44,
    ],
    # NEW_KEY is random: the same ids in every process, as pytest-xdist requires.
    ids=["not-a-key", "31-bytes", "a-key-then-a-short-one", "not-base64"],
)
def test_env_fernet_keys_refuses_a_malformed_key_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("KIROKU_ENCRYPTION_KEY", value)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_fernet_keys("KIROKU_ENCRYPTION_KEY")
    message = str(raised.value)
    assert message.startswith("KIROKU_ENCRYPTION_KEY must hold Fernet keys")
    assert value not in message
