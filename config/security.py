"""Kiroku's security profiles: the Django settings that ``KIROKU_ENV`` chooses.

``development`` (the default) is the embedded server as it always was: the secret key
may come from the file under var/, DEBUG follows KIROKU_DEBUG, cookies travel over
plain HTTP. ``production`` refuses to start without a strong KIROKU_SECRET_KEY or with
DEBUG on, and turns on what ``manage.py check --deploy`` asks for: HTTPS-only cookies,
HSTS, the redirect to HTTPS. Both profiles send the same Content-Security-Policy, so the
browser tests, which run in development, prove the portal works under it. (The pages
that draw WebGL plots add 'unsafe-eval' to it: apps/portal/views/compare.py says why.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_artifact_store,
    env_bool,
    env_int,
    env_list,
    env_origins,
    env_proxy_ssl_header,
    env_str,
)

PROFILES = ("development", "production")
DEVELOPMENT_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ONE_YEAR = 31_536_000
# Django's own test of a strong key (django.core.checks.security.base, security.W009).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
INSECURE_KEY_PREFIX = "django-insecure-"
# Load balancers' health probes and Prometheus scrape the pods over plain HTTP; a
# redirect to HTTPS would fail them. Matched against the path without its leading "/".
REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]


def security_settings(
    profile: str, *, base_url: str, development_secret_key: Callable[[], str]
) -> dict[str, Any]:
    """The settings of ``profile`` (one of PROFILES), read from the environment.

    Returns SECRET_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS,
    SECURE_PROXY_SSL_HEADER, the response headers' settings and CONTENT_SECURITY_POLICY;
    production adds secure cookies, HSTS and the redirect to HTTPS.
    ``development_secret_key`` gives development's key (KIROKU_SECRET_KEY or the one kept
    under var/); production never calls it, so it writes nothing before refusing.

    Raises ImproperlyConfigured, naming the variable, for a weak or missing secret key
    or DEBUG on in production, and for malformed values.
    """
    production = profile == "production"
    common = {
        "SECURE_PROXY_SSL_HEADER": env_proxy_ssl_header("KIROKU_SECURE_PROXY_SSL_HEADER"),
        "CSRF_TRUSTED_ORIGINS": env_origins(
            "KIROKU_CSRF_TRUSTED_ORIGINS",
            schemes=("https",) if production else ("http", "https"),
        ),
        # Django's defaults, stated so that both profiles' values are in one place.
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "CONTENT_SECURITY_POLICY": content_security_policy(artifact_origins()),
    }
    if not production:
        return {
            "SECRET_KEY": development_secret_key(),
            "DEBUG": env_bool("KIROKU_DEBUG", False),
            "ALLOWED_HOSTS": env_list("KIROKU_ALLOWED_HOSTS", DEVELOPMENT_HOSTS),
            **common,
        }
    if env_bool("KIROKU_DEBUG", False):
        raise ImproperlyConfigured(
            "KIROKU_DEBUG must be false when KIROKU_ENV=production: debug pages show "
            "settings and source code to anyone who triggers an error"
        )
    return {
        "SECRET_KEY": production_secret_key(),
        "DEBUG": False,
        "ALLOWED_HOSTS": env_list("KIROKU_ALLOWED_HOSTS", []) or [_base_url_host(base_url)],
        **common,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": env_bool("KIROKU_SSL_REDIRECT", True),
        "SECURE_REDIRECT_EXEMPT": list(REDIRECT_EXEMPT),
        "SECURE_HSTS_SECONDS": env_int("KIROKU_HSTS_SECONDS", ONE_YEAR, minimum=0),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": env_bool("KIROKU_HSTS_INCLUDE_SUBDOMAINS", True),
        "SECURE_HSTS_PRELOAD": env_bool("KIROKU_HSTS_PRELOAD", True),
    }


def _base_url_host(base_url: str) -> str:
    host = urlsplit(base_url).hostname
    if not host:
        raise ImproperlyConfigured(
            f"KIROKU_BASE_URL must be a URL with a host, e.g. https://kiroku.example.com "
            f"(production's default KIROKU_ALLOWED_HOSTS is that host); got {base_url!r}"
        )
    return host


def production_secret_key() -> str:
    """KIROKU_SECRET_KEY, refused (ImproperlyConfigured) when missing or weak by
    Django's measure: under 50 characters, under 5 distinct ones, or Django's
    generated development key."""
    key = env_str("KIROKU_SECRET_KEY")
    how = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(64))"'
    if key is None:
        raise ImproperlyConfigured(
            f"KIROKU_SECRET_KEY must be set when KIROKU_ENV=production; {how}"
        )
    weak = (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or key.startswith(INSECURE_KEY_PREFIX)
    )
    if weak:
        raise ImproperlyConfigured(
            f"KIROKU_SECRET_KEY is too weak for KIROKU_ENV=production: it needs at least "
            f"{SECRET_KEY_MIN_LENGTH} characters, {SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them "
            f"different, and must not start with {INSECURE_KEY_PREFIX!r}; {how}"
        )
    return key


def content_security_policy(artifact_sources: list[str]) -> dict[str, Any]:
    """django-csp's CONTENT_SECURITY_POLICY. Scripts come only from our static files
    (no inline script, no eval); styles may be inline because plotly positions its
    plots with style elements and attributes; images and fetches may also reach the
    artifact store (``artifact_sources``), where previews are read from."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF, UNSAFE_INLINE],
            # data: and blob: for plotly's "download as PNG" and Swagger UI's icons.
            "img-src": [SELF, "data:", "blob:", *artifact_sources],
            "connect-src": [SELF, *artifact_sources],
            "font-src": [SELF, "data:"],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }


def artifact_origins() -> list[str]:
    """The origin the browser reads artifact previews from: none beyond 'self' for
    the local store (its URLs are the server's own), else the origin of the S3 store's
    presigned URLs. boto3 builds that URL without signing it (no credentials are
    looked up, nothing goes over the network), so the origin is the one the store's
    downloads will use, whatever S3's addressing rules for the region and bucket."""
    store = env_artifact_store("KIROKU_ARTIFACT_STORE", Path("var/artifacts"))
    if store["backend"] != "s3":
        return []
    import boto3  # only S3 deployments pay for the import
    from botocore import UNSIGNED
    from botocore.config import Config

    region = env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1"))
    try:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=env_str("AWS_ENDPOINT_URL"),
            region_name=region,
            config=Config(signature_version=UNSIGNED),
        )
    except ValueError as exc:  # botocore's answer to a malformed endpoint or region
        raise ImproperlyConfigured(f"AWS_ENDPOINT_URL or AWS_REGION is not valid: {exc}") from None
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": store["bucket"], "Key": "origin"}
    )
    parts = urlsplit(url)
    return [f"{parts.scheme}://{parts.netloc}"]
