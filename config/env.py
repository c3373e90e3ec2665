"""Reading Kiroku's configuration from the environment.

Every setting comes from an environment variable. A malformed value stops start-up
with an ``ImproperlyConfigured`` that names the variable and says what it expects.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import overload
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, got {value}")
    return number


def env_http_url(name: str, default: str) -> str:
    """An http(s) base URL without a trailing slash."""
    value = _raw(name) or default
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def env_fernet_keys(name: str) -> list[str]:
    """Comma-separated Fernet keys (urlsafe base64 of 32 bytes), newest first: the first
    encrypts, all of them decrypt, so keys can be rotated. Empty when unset."""
    keys = env_list(name, [])
    for key in keys:
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"{name} must hold Fernet keys (urlsafe base64 of 32 bytes, e.g. from "
                "'python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"'), comma-separated"
            )
    return keys


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared lower-case), or ``default`` when unset."""
    value = _raw(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value.lower()


# A host name (optionally behind "*." for subdomains) or a bracketed IPv6 address, and a port.
_ORIGIN_HOST = re.compile(r"^((\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


def env_origins(name: str, *, schemes: tuple[str, ...]) -> list[str]:
    """Comma-separated origins (``https://kiroku.example.com``, ``https://*.example.com``,
    a port allowed), as Django's ``CSRF_TRUSTED_ORIGINS`` takes them: a scheme from
    ``schemes`` and a host, nothing after it. Empty when unset."""
    origins = env_list(name, [])
    for origin in origins:
        parts = urlsplit(origin)
        only_a_host = origin == f"{parts.scheme}://{parts.netloc}"
        if (
            parts.scheme not in schemes
            or not only_a_host
            or not _ORIGIN_HOST.fullmatch(parts.netloc)
        ):
            expected = " or ".join(f"{scheme}://" for scheme in schemes)
            raise ImproperlyConfigured(
                f"{name} must hold origins starting with {expected} and naming only a host "
                f"(e.g. https://kiroku.example.com), comma-separated; got {origin!r}"
            )
    return origins


_META_HEADER = re.compile(r"^HTTP_[A-Z0-9_]+$")


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """Django's ``SECURE_PROXY_SSL_HEADER`` from ``HTTP_X_FORWARDED_PROTO,https``: the
    request header (as Django's ``request.META`` names it) and the value that marks a
    request the proxy received over HTTPS. None when unset."""
    value = _raw(name)
    if value is None:
        return None
    header, _, expected = (part.strip() for part in value.partition(","))
    if not _META_HEADER.fullmatch(header) or not expected or "," in expected:
        raise ImproperlyConfigured(
            f"{name} must be a header as Django names it and the value meaning HTTPS, "
            f"e.g. HTTP_X_FORWARDED_PROTO,https; got {value!r}"
        )
    return header, expected


def env_database(name: str, default_sqlite_path: Path) -> dict:
    """The ``DATABASES['default']`` entry from a database URL, or the embedded SQLite file."""
    value = _raw(name)
    if value is None:
        default_sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return _sqlite(str(default_sqlite_path))
    scheme = urlsplit(value).scheme
    if scheme in {"postgres", "postgresql", "pgsql"}:
        parts = urlsplit(value)
        if not parts.path.strip("/"):
            raise ImproperlyConfigured(
                f"{name} must name a database, e.g. postgres://user@host:5432/kiroku; got {value!r}"
            )
        try:
            config = environ.Env.db_url_config(value)
        except Exception as exc:  # django-environ raises several types for bad URLs
            raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
        config["ENGINE"] = "django.db.backends.postgresql"
        config.setdefault("CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
        return config
    if scheme == "sqlite":
        path = value[len("sqlite:///") :] if value.startswith("sqlite:///") else ""
        if not path:
            raise ImproperlyConfigured(
                f"{name} for SQLite must look like sqlite:////absolute/path.db, got {value!r}"
            )
        return _sqlite(path)
    raise ImproperlyConfigured(
        f"{name} must start with postgres:// or sqlite:///, got scheme {scheme or '(none)'!r}"
    )


def _sqlite(path: str) -> dict:
    """A SQLite file shared by the server's threads and processes (the web server, the
    in-process scheduler, ``manage.py`` commands), each with connections of its own."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # IMMEDIATE takes the write lock when a transaction starts: two writers
            # queue on the busy timeout instead of one failing with "database is
            # locked" when it upgrades a read lock to write halfway through (SQLite
            # answers that deadlock at once, without waiting).
            "transaction_mode": "IMMEDIATE",
            # Seconds a connection waits for the write lock before "database is locked".
            "timeout": 20,
            # WAL: readers never wait for the writer, nor the writer for readers (with
            # the default rollback journal every read waits out each commit).
            # synchronous=NORMAL is WAL's recommended pairing: a commit survives a
            # crash of the process; a power cut may lose the last commits, never
            # corrupt the file. journal_mode is stored in the file; synchronous is
            # per connection, hence on every connect.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }


def env_redis_url(name: str) -> str | None:
    value = _raw(name)
    if value is None:
        return None
    if urlsplit(value).scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"{name} must start with redis:// or rediss://, got {value!r}")
    return value


_RATE = re.compile(r"^([0-9]+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)$")
_RATE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_rate(name: str, default: str) -> tuple[int, int] | None:
    """A request rate such as ``6000/min`` (per ``s``, ``min``, ``hour`` or ``day``) as
    ``(requests, seconds)``; None (no limit) for ``0`` or ``off``."""
    value = (_raw(name) or default).lower()
    if value in {"0", "off"}:
        return None
    match = _RATE.fullmatch(value)
    if match is None or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 6000/min (per s, min, hour or day), or off; "
            f"got {value!r}"
        )
    return int(match.group(1)), _RATE_SECONDS[match.group(2)[0]]


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def env_artifact_store(name: str, default_root: Path) -> dict:
    """Where artifacts live: ``{"backend": "s3", "bucket", "prefix"}`` for
    ``s3://bucket/prefix``, or ``{"backend": "local", "root"}`` for ``file:///path``
    (the default: ``default_root``)."""
    value = _raw(name)
    if value is None:
        return {"backend": "local", "root": default_root}
    parts = urlsplit(value)
    if parts.scheme == "s3":
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if not _BUCKET.fullmatch(bucket):
            raise ImproperlyConfigured(
                f"{name} must name an S3 bucket (3-63 lowercase letters, digits, '.', '-'), "
                f"e.g. s3://kiroku-artifacts/prod; got {value!r}"
            )
        if prefix and (not _PREFIX.fullmatch(prefix) or ".." in prefix.split("/")):
            raise ImproperlyConfigured(
                f"{name} prefix may hold letters, digits, '.', '_', '-' and '/' only; "
                f"got {prefix!r}"
            )
        return {"backend": "s3", "bucket": bucket, "prefix": prefix}
    if parts.scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise ImproperlyConfigured(
                f"{name} for a local folder must look like file:///absolute/path, got {value!r}"
            )
        return {"backend": "local", "root": Path(parts.path)}
    raise ImproperlyConfigured(
        f"{name} must start with s3:// or file:///, got scheme {parts.scheme or '(none)'!r}"
    )


_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}


def env_email() -> dict:
    """Django's ``EMAIL_*`` settings. ``KIROKU_EMAIL_URL`` (``smtp://``, ``smtp+tls://``,
    ``smtp+ssl://user:password@host:port``, or ``consolemail://``), or else ``EMAIL_HOST``
    with ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD`` and
    ``EMAIL_USE_TLS`` (SMTP), or else the console backend (mail is printed: development)."""
    url = _raw("KIROKU_EMAIL_URL")
    host = _raw("EMAIL_HOST")
    if url is not None and host is not None:
        raise ImproperlyConfigured("set KIROKU_EMAIL_URL or EMAIL_HOST, not both")
    if url is not None:
        scheme = urlsplit(url).scheme
        if scheme not in {"smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail"}:
            raise ImproperlyConfigured(
                "KIROKU_EMAIL_URL must start with smtp://, smtp+tls://, smtp+ssl:// or "
                f"consolemail://, got scheme {scheme or '(none)'!r}"
            )
        try:
            config = environ.Env.email_url_config(url)
        except Exception as exc:  # django-environ raises several types for bad URLs
            raise ImproperlyConfigured(
                f"KIROKU_EMAIL_URL is not a valid email URL: {exc}"
            ) from None
        if scheme == "consolemail":
            return {"EMAIL_BACKEND": _EMAIL_BACKENDS["console"]}
        if not config.get("EMAIL_HOST"):
            raise ImproperlyConfigured(
                "KIROKU_EMAIL_URL must name a host, "
                "e.g. smtp+tls://user:password@smtp.example.com:587"
            )
        use_tls, use_ssl = bool(config.get("EMAIL_USE_TLS")), bool(config.get("EMAIL_USE_SSL"))
        return {
            "EMAIL_BACKEND": _EMAIL_BACKENDS["smtp"],
            "EMAIL_HOST": config["EMAIL_HOST"],
            "EMAIL_PORT": config.get("EMAIL_PORT") or (465 if use_ssl else 587 if use_tls else 25),
            "EMAIL_HOST_USER": config.get("EMAIL_HOST_USER") or "",
            "EMAIL_HOST_PASSWORD": config.get("EMAIL_HOST_PASSWORD") or "",
            "EMAIL_USE_TLS": use_tls,
            "EMAIL_USE_SSL": use_ssl,
        }
    if host is not None:
        return {
            "EMAIL_BACKEND": _EMAIL_BACKENDS["smtp"],
            "EMAIL_HOST": host,
            "EMAIL_PORT": env_int("EMAIL_PORT", 25, minimum=1, maximum=65535),
            "EMAIL_HOST_USER": env_str("EMAIL_HOST_USER", ""),
            "EMAIL_HOST_PASSWORD": env_str("EMAIL_HOST_PASSWORD", ""),
            "EMAIL_USE_TLS": env_bool("EMAIL_USE_TLS", False),
            "EMAIL_USE_SSL": False,
        }
    return {"EMAIL_BACKEND": _EMAIL_BACKENDS["console"]}
