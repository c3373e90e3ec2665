"""``manage.py ensure_admin [--reset]``: create the local admin on first run, with a
random password printed once in a framed block; ``--reset`` (``make admin-password``)
gives it a new random password, the way back when the first one is lost."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.shortcuts import resolve_url

from apps.core.admin_account import (
    DEFAULT_USERNAME,
    AdminAccountError,
    admin_ensure,
    admin_notice,
    admin_password_reset,
)


class Command(BaseCommand):
    help = (
        "Create the 'admin' superuser if no superuser exists and print its random password "
        "once; with --reset, print a new random password for it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--username",
            default=None,
            help=f"the superuser's name (default: {DEFAULT_USERNAME}; with --reset: "
            f"{DEFAULT_USERNAME}, or the only superuser)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="give the admin a new random password and print it (the old one stops working)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["reset"]:
                account = admin_password_reset(username=options["username"])
            else:
                account = admin_ensure(username=options["username"] or DEFAULT_USERNAME)
        except AdminAccountError as exc:
            raise CommandError(str(exc)) from None
        sign_in_url = settings.KIROKU_BASE_URL + resolve_url(settings.LOGIN_URL)
        self.stdout.write(admin_notice(account, sign_in_url=sign_in_url))
