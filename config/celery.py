"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery

from apps.core.observability import celery_observe

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("kiroku")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids carried into tasks, Django's LOGGING in workers, the worker's metrics port.
celery_observe()
