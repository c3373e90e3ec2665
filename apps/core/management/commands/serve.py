"""``manage.py serve [addr:port]``: the development server plus, when no broker is
configured, the in-process scheduler for periodic jobs. The server's request lines
(logger ``django.server``) name secret URL parts instead of printing them, as the
access log does (``ServerLogMaskFilter`` in config/log_config.py's LOGGING)."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.core.scheduler import InProcessScheduler


class Command(BaseCommand):
    help = "Serve Kiroku (development server) with its periodic jobs."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, **options):
        scheduler = None
        if settings.CELERY_TASK_ALWAYS_EAGER:
            scheduler = InProcessScheduler()
            scheduler.start()
            self.stdout.write("Periodic jobs run in-process (no REDIS_URL configured).")
        try:
            call_command(
                "runserver", options["addrport"], use_reloader=False, insecure_serving=True
            )
        finally:
            if scheduler is not None:
                scheduler.stop()
