"""Kiroku settings: every value comes from the environment (see README, Configuration)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path

from config.env import (
    env_artifact_store,
    env_bool,
    env_database,
    env_email,
    env_fernet_keys,
    env_float,
    env_http_url,
    env_int,
    env_list,
    env_redis_url,
    env_str,
)

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


SECRET_KEY = _secret_key()
DEBUG = env_bool("KIROKU_DEBUG", False)
ALLOWED_HOSTS = env_list("KIROKU_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
KIROKU_BASE_URL = env_str("KIROKU_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
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
    "django_htmx",
    "apps.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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

REST_FRAMEWORK = {
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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
    "APPEND_COMPONENTS": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"bearer": []}],
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("KIROKU_LOG_LEVEL", "INFO")},
}
