"""Kiroku settings: every value comes from the environment (see README, Configuration)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from typing import Any

from config.env import (
    env_artifact_store,
    env_bool,
    env_choice,
    env_database,
    env_email,
    env_fernet_keys,
    env_float,
    env_http_url,
    env_int,
    env_rate,
    env_redis_url,
    env_str,
)
from config.observability import observability_settings
from config.security import PROFILES, security_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("KIROKU_VAR_DIR", str(BASE_DIR / "var")))


def _secret_key() -> str:
    configured = env_str("KIROKU_SECRET_KEY")
    if configured:
        return configured
    # Embedded default: a random key kept under var/ so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


KIROKU_BASE_URL = env_str("KIROKU_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# ---- Security profile (config/security.py) ----------------------------------------------
# KIROKU_ENV=development (the default) keeps the embedded server's defaults; production
# refuses a weak KIROKU_SECRET_KEY or DEBUG on, and turns on HTTPS-only cookies, HSTS and
# the redirect to HTTPS. Sets SECRET_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, the
# SECURE_* settings and CONTENT_SECURITY_POLICY (sent by csp.middleware.CSPMiddleware).
KIROKU_ENV = env_choice("KIROKU_ENV", "development", PROFILES)
_SECURITY = security_settings(
    KIROKU_ENV, base_url=KIROKU_BASE_URL, development_secret_key=_secret_key
)
globals().update(_SECURITY)
# Named as well, for the settings below that derive from them.
SECRET_KEY: str = _SECURITY["SECRET_KEY"]
DEBUG: bool = _SECURITY["DEBUG"]
# ---- end of the security profile ---------------------------------------------------------

INSTALLED_APPS = [
    # django.contrib.admin, its sign-in throttled like the portal's (mounted outside
    # production only: config/urls.py).
    "apps.core.admin_site.KirokuAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",  # request metrics for /metrics (apps/core/metrics.py)
    "apps.core",
    "apps.accounts",
    "apps.projects",
    "apps.audit",
    "apps.events",
    "apps.runs",
    "apps.artifacts",
    "apps.collab",
    "apps.notifications",
    "apps.ci",
    "apps.registry",
    "django_htmx",
    "apps.portal",
]

MIDDLEWARE = [
    # Observability (apps/core): metrics around everything; the request id and access log
    # around all that follows; /healthz and /readyz answered before Host validation and
    # the HTTPS redirect (apps/core/health.py says why).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.observability.RequestLogMiddleware",
    "apps.core.health.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last: latency by view
]

ROOT_URLCONF = "config.urls"
APPEND_SLASH = False
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", VAR_DIR / "kiroku.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.min.js from the installed plotly package: no CDN, the portal works offline.
    "apps.portal.staticfiles.PlotlyFinder",
]
# WhiteNoise serves static files in every process, from the finders until
# `collectstatic` has filled STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:projects"
LOGOUT_REDIRECT_URL = "portal:login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Email (invitations, password resets): KIROKU_EMAIL_URL, or EMAIL_HOST & co, or the
# console backend, which prints each message (development).
_EMAIL = env_email()
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _EMAIL.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _EMAIL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _EMAIL.get("EMAIL_USE_SSL", False)
# A mail server that does not answer fails the send instead of holding the request.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kiroku <kiroku@localhost>")
# Anyone may create an account at /signup only when this is on; otherwise site admins
# invite people.
KIROKU_OPEN_SIGNUP = env_bool("KIROKU_OPEN_SIGNUP", False)

# The API takes a request body of at most 4 MiB (ingestion's documented limit)
# plus room for the JSON envelope.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024 + 64 * 1024

REST_FRAMEWORK: dict[str, Any] = {
    # Scripts use bearer tokens; the portal's pages read the API with their session
    # (CSRF-checked for writes). The first class decides the 401's WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Fail closed: a view that does not declare its permission policy serves nobody.
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.DenyAll"],
    "DEFAULT_RENDERER_CLASSES": ["apps.core.renderers.StrictJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "apps.core.errors.exception_handler",
    # Tags each operation with its area (runs, artifacts, ...) for the API docs.
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.KirokuAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kiroku API",
    "DESCRIPTION": "Record, search and compare ML runs. Authenticate with "
    "`Authorization: Bearer krk_...`. Errors share one shape: "
    '`{"error": {"code": ..., "message": ..., "field": ...}}`.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The areas' order and descriptions in the docs (apps/core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.tags_in_order",
    ],
    # Each operation's security comes from its authentication classes (the bearer
    # scheme: apps.accounts.authentication.BearerTokenScheme).
}

# Runs whose last heartbeat is older than this are marked CRASHED.
KIROKU_HEARTBEAT_TIMEOUT_SECONDS = env_int("KIROKU_HEARTBEAT_TIMEOUT", 300, minimum=10)
# Soft-deleted runs and projects are purged after this many days.
KIROKU_DELETED_RETENTION_DAYS = env_int("KIROKU_DELETED_RETENTION_DAYS", 30, minimum=1)
MIB = 1024 * 1024
# Artifacts: where they live (s3://bucket/prefix or file:///path; default var/artifacts),
# and the limits of an upload.
KIROKU_ARTIFACT_STORE = env_artifact_store("KIROKU_ARTIFACT_STORE", VAR_DIR / "artifacts")
# S3 endpoint for S3-compatible stores (MinIO, R2...); boto3 reads credentials itself.
KIROKU_S3_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL")
KIROKU_S3_REGION = env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1"))
KIROKU_ARTIFACT_MULTIPART_THRESHOLD = env_int(
    "KIROKU_ARTIFACT_MULTIPART_THRESHOLD", 64 * MIB, minimum=5 * MIB
)
KIROKU_ARTIFACT_UPLOAD_EXPIRY_SECONDS = env_int(
    "KIROKU_ARTIFACT_UPLOAD_EXPIRY", 3600, minimum=60, maximum=604800
)
KIROKU_ARTIFACT_DOWNLOAD_EXPIRY_SECONDS = env_int(
    "KIROKU_ARTIFACT_DOWNLOAD_EXPIRY", 300, minimum=10, maximum=604800
)
# Bytes per project, counting pending uploads; 0 means no quota.
KIROKU_ARTIFACT_QUOTA_BYTES = env_int("KIROKU_ARTIFACT_QUOTA", 0, minimum=0)
# Uploads still pending after this long are aborted.
KIROKU_ARTIFACT_PENDING_TTL_SECONDS = env_int("KIROKU_ARTIFACT_PENDING_TTL", 86400, minimum=60)

# Notifications (apps/notifications). Credentials of Slack and Notion destinations are
# encrypted with KIROKU_ENCRYPTION_KEY (Fernet keys, newest first); the embedded default
# derives one from the secret key, so changing that key makes stored credentials unreadable.
KIROKU_ENCRYPTION_KEYS = env_fernet_keys("KIROKU_ENCRYPTION_KEY") or [
    base64.urlsafe_b64encode(
        hashlib.sha256(b"kiroku-credentials:" + SECRET_KEY.encode()).digest()
    ).decode()
]
KIROKU_SLACK_API_URL = env_http_url("KIROKU_SLACK_API_URL", "https://slack.com/api")
KIROKU_NOTION_API_URL = env_http_url("KIROKU_NOTION_API_URL", "https://api.notion.com")
# The Notion-Version header: 2025-09-03 creates pages under a database's data source.
KIROKU_NOTION_VERSION = "2025-09-03"
# Slack posts per second per channel, across all workers.
KIROKU_SLACK_MESSAGES_PER_SECOND = env_float(
    "KIROKU_SLACK_MESSAGES_PER_SECOND", 1.0, minimum=0.01, maximum=1000.0
)
# Seconds to wait for Slack or Notion to answer one request.
KIROKU_NOTIFY_TIMEOUT_SECONDS = env_int("KIROKU_NOTIFY_TIMEOUT", 15, minimum=1, maximum=120)
# A delivery gives up after this many attempts (transient errors back off, capped).
KIROKU_NOTIFY_MAX_ATTEMPTS = env_int("KIROKU_NOTIFY_MAX_ATTEMPTS", 8, minimum=1, maximum=20)
KIROKU_NOTIFY_BACKOFF_SECONDS = env_int("KIROKU_NOTIFY_BACKOFF", 5, minimum=1)
KIROKU_NOTIFY_BACKOFF_CAP_SECONDS = env_int(
    "KIROKU_NOTIFY_BACKOFF_CAP", 600, minimum=1, maximum=3000
)
# The sweeper re-enqueues deliveries left pending (or sending, by a lost worker) this long.
KIROKU_NOTIFY_STUCK_AFTER_SECONDS = env_int("KIROKU_NOTIFY_STUCK_AFTER", 120, minimum=5)
# Ingestion writes run.metrics_updated at most once per run this often (threshold rules).
KIROKU_METRICS_EVENT_INTERVAL_SECONDS = env_int("KIROKU_METRICS_EVENT_INTERVAL", 10, minimum=1)

# Undispatched outbox events older than this are retried by the periodic job.
KIROKU_OUTBOX_RETRY_AFTER_SECONDS = env_int("KIROKU_OUTBOX_RETRY_AFTER", 30, minimum=1)
# Dispatched outbox events are deleted after this many days.
KIROKU_OUTBOX_KEEP_DAYS = env_int("KIROKU_OUTBOX_KEEP_DAYS", 7, minimum=1)

# Celery: Redis when REDIS_URL is set; otherwise tasks run in-process (after commit,
# because every caller schedules them with transaction.on_commit).
REDIS_URL = env_redis_url("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "artifacts.*": {"queue": "maintenance"},
    "events.dispatch": {"queue": "default"},
    "events.retry_undispatched": {"queue": "maintenance"},
    "events.purge_dispatched": {"queue": "maintenance"},
    "runs.*": {"queue": "maintenance"},
    "projects.*": {"queue": "maintenance"},
    "notifications.deliver": {"queue": "notifications"},
    "notifications.sweep": {"queue": "maintenance"},
}
# Longer than any countdown a task is scheduled with (the backoff cap), so Redis does not
# hand a waiting task to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BEAT_SCHEDULE = {
    "runs-mark-crashed": {"task": "runs.mark_crashed", "schedule": 60.0},
    "events-retry-undispatched": {"task": "events.retry_undispatched", "schedule": 30.0},
    "runs-purge-deleted": {"task": "runs.purge_deleted", "schedule": 3600.0},
    "projects-purge-deleted": {"task": "projects.purge_deleted", "schedule": 3600.0},
    "artifacts-abort-stale": {"task": "artifacts.abort_stale_uploads", "schedule": 3600.0},
    "artifacts-delete-released": {"task": "artifacts.delete_released", "schedule": 600.0},
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60.0},
    "events-purge-dispatched": {"task": "events.purge_dispatched", "schedule": 86400.0},
}

# ---- Fair use: throttles, the shared cache, the search timeout (apps/core/throttles.py) ----
# Rates are "N/s|min|hour|day", or "off"; a throttled request gets 429 with Retry-After.
KIROKU_THROTTLE_RATES = {
    # Per token: a personal or service token each has its own bucket; a portal session
    # counts against its user. 100 requests a second: the SDK sends at most one batch a
    # second per run (plus a heartbeat every 30 s), so one service token carries about
    # 100 busy runs, twice a CI matrix of 50 parallel jobs. A throttled SDK keeps its
    # points and retries after Retry-After: a burst above the rate is delayed, never lost.
    "token": env_rate("KIROKU_THROTTLE_TOKEN", "6000/min"),
    # Per client address, every API request: the ceiling for many tokens behind one
    # address (a CI fleet or an office behind NAT).
    "ip": env_rate("KIROKU_THROTTLE_IP", "12000/min"),
    # Per client address, API requests without credentials and sign-in attempts.
    "anon": env_rate("KIROKU_THROTTLE_ANON", "60/min"),
    # Sign-in attempts (the portal's and the Django admin's) per client address and
    # username.
    "login": env_rate("KIROKU_THROTTLE_LOGIN", "10/min"),
    # Password-reset requests per client address (over it: 429), and reset emails per
    # email address (over it: the same "check your email" page, and no email), so the
    # form cannot be used to flood someone's inbox.
    "password_reset": env_rate("KIROKU_THROTTLE_PASSWORD_RESET", "10/hour"),
    "password_reset_email": env_rate("KIROKU_THROTTLE_PASSWORD_RESET_EMAIL", "3/hour"),
    # Share-link pages (/s/<token>) per client address: each page view, and each request
    # under /s/ whose token names no live link (a guess). The requests a page makes
    # with a good token (charts, status, files) are not counted, so a run with hundreds
    # of charts still loads; once an address is over, those are refused too.
    "share": env_rate("KIROKU_THROTTLE_SHARE", "60/min"),
}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "apps.core.throttles.TokenRateThrottle",
    "apps.core.throttles.ClientIpRateThrottle",
    "apps.core.throttles.AnonRateThrottle",
]
# The client address is REMOTE_ADDR, or, behind this many reverse proxies that each
# append to X-Forwarded-For, the address the outermost of them saw. 0 trusts no
# X-Forwarded-For at all (a client could write any address there).
REST_FRAMEWORK["NUM_PROXIES"] = env_int("KIROKU_NUM_PROXIES", 0, minimum=0, maximum=10)
# Throttle counters live in the cache: Redis shares them between web processes; without
# REDIS_URL each process counts alone (so the rates apply per process).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Apart from Celery's keys in the same database.
            "KEY_PREFIX": "kiroku-cache",
            # A Redis that does not answer must not hold requests (throttles then let
            # them through).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "kiroku",
        }
    }
# A run search (API and portal) is stopped after this many milliseconds on PostgreSQL,
# and answered 400 search_timeout; 0 turns the limit off.
KIROKU_SEARCH_TIMEOUT_MS = env_int("KIROKU_SEARCH_TIMEOUT_MS", 10_000, minimum=0, maximum=600_000)
# ---- end of fair use -------------------------------------------------------------------------

# ---- Observability: logs, request ids, metrics (config/observability.py) ----------------
# KIROKU_LOG_FORMAT (JSON by default in production, else text) and KIROKU_LOG_LEVEL make
# LOGGING; /metrics answers KIROKU_METRICS_TOKEN and loopback callers; Celery workers
# serve their metrics on KIROKU_WORKER_METRICS_PORT (0: they do not), which needs
# PROMETHEUS_MULTIPROC_DIR. A malformed or inconsistent value stops start-up.
_OBSERVABILITY = observability_settings(production=KIROKU_ENV == "production")
KIROKU_LOG_FORMAT = _OBSERVABILITY["KIROKU_LOG_FORMAT"]
LOGGING = _OBSERVABILITY["LOGGING"]
KIROKU_METRICS_TOKEN = _OBSERVABILITY["KIROKU_METRICS_TOKEN"]
KIROKU_WORKER_METRICS_PORT = _OBSERVABILITY["KIROKU_WORKER_METRICS_PORT"]
# ---- end of observability ------------------------------------------------------------------
