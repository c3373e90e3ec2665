"""Email comes from the environment: KIROKU_EMAIL_URL, or EMAIL_HOST & co, or the
console backend; a malformed value stops start-up naming the variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_email
from tests.core.test_settings import start_up

SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
VARIABLES = (
    "KIROKU_EMAIL_URL",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_nothing_set_means_the_console():
    assert env_email() == {"EMAIL_BACKEND": CONSOLE}


def test_an_smtp_url_with_starttls(monkeypatch):
    monkeypatch.setenv(
        "KIROKU_EMAIL_URL", "smtp+tls://kiroku%40example.org:p%40ss@mail.example.org"
    )
    assert env_email() == {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "kiroku@example.org",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }


@pytest.mark.parametrize(
    ("url", "port", "tls", "ssl"),
    [
        ("smtp://mail.example.org", 25, False, False),
        ("smtp://mail.example.org:2525", 2525, False, False),
        ("smtp+ssl://mail.example.org", 465, False, True),
    ],
)
def test_smtp_url_ports_and_security(monkeypatch, url, port, tls, ssl):
    monkeypatch.setenv("KIROKU_EMAIL_URL", url)
    config = env_email()
    assert (config["EMAIL_PORT"], config["EMAIL_USE_TLS"], config["EMAIL_USE_SSL"]) == (
        port,
        tls,
        ssl,
    )


def test_the_console_by_url(monkeypatch):
    monkeypatch.setenv("KIROKU_EMAIL_URL", "consolemail://")
    assert env_email() == {"EMAIL_BACKEND": CONSOLE}


def test_separate_variables(monkeypatch):
    for name, value in {
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "kiroku",
        "EMAIL_HOST_PASSWORD": "secret",
        "EMAIL_USE_TLS": "true",
    }.items():
        monkeypatch.setenv(name, value)
    assert env_email() == {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "kiroku",
        "EMAIL_HOST_PASSWORD": "secret",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"KIROKU_EMAIL_URL": "smtp://a", "EMAIL_HOST": "b"},
            "set KIROKU_EMAIL_URL or EMAIL_HOST, not both",
        ),
        ({"KIROKU_EMAIL_URL": "mailto:x@y"}, "KIROKU_EMAIL_URL must start with smtp://"),
        ({"KIROKU_EMAIL_URL": "smtp://"}, "KIROKU_EMAIL_URL must name a host"),
        ({"EMAIL_HOST": "h", "EMAIL_PORT": "smtp"}, "EMAIL_PORT must be an integer"),
        ({"EMAIL_HOST": "h", "EMAIL_USE_TLS": "maybe"}, "EMAIL_USE_TLS must be true or false"),
    ],
)
def test_a_malformed_value_names_the_variable(monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_email()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KIROKU_OPEN_SIGNUP", "perhaps", "KIROKU_OPEN_SIGNUP must be true or false"),
        ("KIROKU_EMAIL_URL", "http://mail", "KIROKU_EMAIL_URL must start with smtp://"),
    ],
)
def test_a_malformed_variable_stops_start_up(tmp_path, name, value, message):
    result = start_up(tmp_path, **{name: value})
    assert result.returncode != 0
    assert message in result.stderr
