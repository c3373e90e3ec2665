"""The production profile (KIROKU_ENV=production, config/security.py): Django's deploy
checks pass, and start-up refuses a configuration that would be unsafe, naming the
variable to fix. The security settings of both profiles, exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.security import PROFILES, artifact_origins, security_settings

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "kP3v9Qx2Lm8Zr5Tn1Wy7Hc4Jb6Fd0Sg2Ae9Uo3Ik5Pl7Mn1Bv8Cx4Zq6Wr2Ty0Gh"
PRODUCTION = {
    "KIROKU_ENV": "production",
    "KIROKU_SECRET_KEY": STRONG_KEY,
    "KIROKU_ALLOWED_HOSTS": "kiroku.example.com",
    "KIROKU_CSRF_TRUSTED_ORIGINS": "https://kiroku.example.com",
}
# Every variable config/security.py reads; each test starts without them.
READ = (
    "KIROKU_SECRET_KEY",
    "KIROKU_DEBUG",
    "KIROKU_ALLOWED_HOSTS",
    "KIROKU_CSRF_TRUSTED_ORIGINS",
    "KIROKU_SECURE_PROXY_SSL_HEADER",
    "KIROKU_SSL_REDIRECT",
    "KIROKU_HSTS_SECONDS",
    "KIROKU_HSTS_INCLUDE_SUBDOMAINS",
    "KIROKU_HSTS_PRELOAD",
    "KIROKU_ARTIFACT_STORE",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
HEADERS = {
    "SECURE_CONTENT_TYPE_NOSNIFF": True,
    "SECURE_REFERRER_POLICY": "same-origin",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
    "X_FRAME_OPTIONS": "DENY",
    "CONTENT_SECURITY_POLICY": POLICY,
}


def kiroku(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` in the repository with only ``env`` of Kiroku's variables
    (none inherited from this process) and var/ in ``tmp_path``."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("KIROKU_")}
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "KIROKU_VAR_DIR": str(tmp_path), **env}
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def start_up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return kiroku(tmp_path, ["-c", "import django; django.setup()"], **env)


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The ImproperlyConfigured message a failed start-up ended with."""
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    prefix = "django.core.exceptions.ImproperlyConfigured: "
    assert last.startswith(prefix), result.stderr
    return last.removeprefix(prefix)


@pytest.fixture
def environment(monkeypatch):
    """A clean slate of the variables config/security.py reads; returns monkeypatch."""
    for name in READ:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def not_called() -> str:
    raise AssertionError("production must not fall back to the development key")


def test_check_deploy_reports_nothing_under_production_settings(tmp_path):
    result = kiroku(
        tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


def test_check_deploy_fails_under_development_settings(tmp_path):
    # The check above has something to find: the development profile does not pass it.
    result = kiroku(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 1
    found = {
        code for code in ("W004", "W008", "W012", "W016") if f"security.{code}" in result.stderr
    }
    assert found == {"W004", "W008", "W012", "W016"}


def test_production_starts_with_a_strong_key(tmp_path):
    result = start_up(tmp_path, **PRODUCTION)
    assert (result.returncode, result.stderr) == (0, "")


def test_production_refuses_a_missing_secret_key_and_writes_none(tmp_path):
    env = {**PRODUCTION, "KIROKU_SECRET_KEY": ""}
    message = refusal(start_up(tmp_path, **env))
    assert message.startswith("KIROKU_SECRET_KEY must be set when KIROKU_ENV=production")
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    "key",
    [
        STRONG_KEY[:49],  # one character short of Django's 50
        "ab" * 30,  # long, but 2 distinct characters (Django wants 5)
        "django-insecure-" + STRONG_KEY,  # Django's generated development key
    ],
    ids=["short", "few-distinct-characters", "django-insecure"],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key):
    message = refusal(start_up(tmp_path, **{**PRODUCTION, "KIROKU_SECRET_KEY": key}))
    assert message.startswith("KIROKU_SECRET_KEY is too weak for KIROKU_ENV=production")


def test_production_refuses_debug(tmp_path):
    message = refusal(start_up(tmp_path, **PRODUCTION, KIROKU_DEBUG="true"))
    assert message.startswith("KIROKU_DEBUG must be false when KIROKU_ENV=production")


def test_an_unknown_profile_is_refused(tmp_path):
    message = refusal(start_up(tmp_path, KIROKU_ENV="staging"))
    assert message == "KIROKU_ENV must be one of development, production; got 'staging'"


@pytest.mark.parametrize(
    "origin",
    ["http://kiroku.example.com", "kiroku.example.com", "https://kiroku.example.com/login"],
    ids=["plain-http", "no-scheme", "with-a-path"],
)
def test_production_refuses_a_trusted_origin_that_is_not_an_https_origin(tmp_path, origin):
    env = {**PRODUCTION, "KIROKU_CSRF_TRUSTED_ORIGINS": f"https://ok.example.com,{origin}"}
    message = refusal(start_up(tmp_path, **env))
    assert message == (
        "KIROKU_CSRF_TRUSTED_ORIGINS must hold origins starting with https:// and naming "
        f"only a host (e.g. https://kiroku.example.com), comma-separated; got {origin!r}"
    )


def test_the_profiles_are_development_and_production():
    assert PROFILES == ("development", "production")


def test_production_settings_by_default(environment):
    environment.setenv("KIROKU_SECRET_KEY", STRONG_KEY)
    settings = security_settings(
        "production", base_url="https://kiroku.example.com", development_secret_key=not_called
    )
    assert settings == {
        "SECRET_KEY": STRONG_KEY,
        "DEBUG": False,
        # The host of KIROKU_BASE_URL unless KIROKU_ALLOWED_HOSTS says otherwise.
        "ALLOWED_HOSTS": ["kiroku.example.com"],
        "SECURE_PROXY_SSL_HEADER": None,
        "CSRF_TRUSTED_ORIGINS": [],
        **HEADERS,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
    }


def test_production_settings_from_the_environment(environment):
    for name, value in {
        "KIROKU_SECRET_KEY": STRONG_KEY,
        "KIROKU_ALLOWED_HOSTS": "kiroku.example.com, .kiroku.internal",
        "KIROKU_CSRF_TRUSTED_ORIGINS": "https://kiroku.example.com,https://*.example.com:8443",
        "KIROKU_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "KIROKU_SSL_REDIRECT": "false",
        "KIROKU_HSTS_SECONDS": "3600",
        "KIROKU_HSTS_INCLUDE_SUBDOMAINS": "false",
        "KIROKU_HSTS_PRELOAD": "false",
    }.items():
        environment.setenv(name, value)
    settings = security_settings(
        "production", base_url="https://kiroku.example.com", development_secret_key=not_called
    )
    assert {name: settings[name] for name in settings if name not in HEADERS} == {
        "SECRET_KEY": STRONG_KEY,
        "DEBUG": False,
        "ALLOWED_HOSTS": ["kiroku.example.com", ".kiroku.internal"],
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "CSRF_TRUSTED_ORIGINS": ["https://kiroku.example.com", "https://*.example.com:8443"],
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
    }


def test_production_refuses_a_base_url_without_a_host_when_it_names_the_allowed_host(
    environment,
):
    environment.setenv("KIROKU_SECRET_KEY", STRONG_KEY)
    with pytest.raises(ImproperlyConfigured) as raised:
        security_settings(
            "production", base_url="kiroku.example.com", development_secret_key=not_called
        )
    assert str(raised.value).startswith("KIROKU_BASE_URL must be a URL with a host")


def test_development_settings_are_the_embedded_defaults(environment):
    settings = security_settings(
        "development", base_url="http://127.0.0.1:8000", development_secret_key=lambda: "var-key"
    )
    assert settings == {
        "SECRET_KEY": "var-key",
        "DEBUG": False,
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost", "testserver"],
        "SECURE_PROXY_SSL_HEADER": None,
        "CSRF_TRUSTED_ORIGINS": [],
        **HEADERS,
    }


def test_development_ignores_production_s_switches_and_takes_http_origins(environment):
    environment.setenv("KIROKU_DEBUG", "true")
    environment.setenv("KIROKU_SSL_REDIRECT", "true")
    environment.setenv("KIROKU_CSRF_TRUSTED_ORIGINS", "http://localhost:5173")
    settings = security_settings(
        "development", base_url="http://127.0.0.1:8000", development_secret_key=lambda: "k"
    )
    assert (settings["DEBUG"], settings["CSRF_TRUSTED_ORIGINS"]) == (
        True,
        ["http://localhost:5173"],
    )
    assert "SECURE_SSL_REDIRECT" not in settings


@pytest.mark.parametrize(
    "value", ["X-Forwarded-Proto,https", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PROTO,"]
)
def test_a_malformed_proxy_ssl_header_is_refused(environment, value):
    environment.setenv("KIROKU_SECURE_PROXY_SSL_HEADER", value)
    with pytest.raises(ImproperlyConfigured) as raised:
        security_settings("development", base_url="http://x", development_secret_key=lambda: "k")
    assert str(raised.value) == (
        "KIROKU_SECURE_PROXY_SSL_HEADER must be a header as Django names it and the value "
        f"meaning HTTPS, e.g. HTTP_X_FORWARDED_PROTO,https; got {value!r}"
    )


@pytest.mark.parametrize(
    ("endpoint", "region", "bucket"),
    [
        (None, "us-east-1", "kiroku-artifacts"),
        (None, "eu-west-1", "kiroku.artifacts"),
        ("http://minio.internal:9000", "us-east-1", "kiroku"),
    ],
    ids=["aws", "aws-dotted-bucket", "custom-endpoint"],
)
def test_the_policy_lets_previews_reach_the_s3_store_s_download_origin(
    environment, endpoint, region, bucket
):
    from datetime import timedelta
    from urllib.parse import urlsplit

    from django.utils import timezone

    from apps.artifacts.storage.base import Download
    from apps.artifacts.storage.s3 import S3Store

    environment.setenv("KIROKU_ARTIFACT_STORE", f"s3://{bucket}/runs")
    environment.setenv("AWS_REGION", region)
    environment.setenv("AWS_ACCESS_KEY_ID", "kiroku-test")
    environment.setenv("AWS_SECRET_ACCESS_KEY", "kiroku-test-secret")
    if endpoint:
        environment.setenv("AWS_ENDPOINT_URL", endpoint)
    download = S3Store(bucket=bucket, endpoint_url=endpoint, region=region).download_url(
        key="runs/a.png",
        download=Download("a.png", "image/png", attachment=False),
        expires_at=timezone.now() + timedelta(minutes=5),
        base_url="https://kiroku.example.com/",
    )
    parts = urlsplit(download)
    origin = f"{parts.scheme}://{parts.netloc}"
    assert artifact_origins() == [origin]
    directives = security_settings(
        "development", base_url="http://x", development_secret_key=lambda: "k"
    )["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert (directives["img-src"][-1], directives["connect-src"]) == (origin, ["'self'", origin])
