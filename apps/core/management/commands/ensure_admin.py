"""Create the local admin on first run, with a random password printed once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the 'admin' superuser if no superuser exists; print its random password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already; sign in with it.")
            return
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username=options["username"], email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin user '{options['username']}' with password: {password}\n"
                "It is shown only this once. Create an API token with:\n"
                f"  .venv/bin/python manage.py create_token {options['username']}"
            )
        )
