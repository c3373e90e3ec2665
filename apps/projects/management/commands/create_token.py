"""``python manage.py create_token USERNAME [--project SLUG --role member] [--name NAME]
[--expires-days N]``: create an API token and print it once."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts.authentication import service_token_creator_present
from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.core.errors import KirokuError
from apps.projects.models import Project, Role
from apps.projects.tokens import token_create

MAX_EXPIRES_DAYS = 36_500  # a century; beyond it, leave the token without expiry


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--project", help="slug: create a project-scoped service token")
        parser.add_argument(
            "--role",
            default=None,
            choices=["viewer", "member"],
            help="a service token's role (default member)",
        )
        parser.add_argument("--name", default=None, help="a label for the token")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="expire after N days (default: never)"
        )

    def handle(self, *args, **options):
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        project = None
        if options["project"]:
            project = Project.objects.alive().filter(slug=options["project"]).first()
            if project is None:
                raise CommandError(f"no project with slug {options['project']!r}")
        elif options["role"]:
            raise CommandError("--role only applies with --project")
        expires_at = None
        if options["expires_days"] is not None:
            if not 1 <= options["expires_days"] <= MAX_EXPIRES_DAYS:
                raise CommandError(f"--expires-days must be between 1 and {MAX_EXPIRES_DAYS}")
            expires_at = timezone.now() + timedelta(days=options["expires_days"])
        role = Role.parse(options["role"]) if options["role"] else None
        name = options["name"] or ("service" if project else "cli")
        try:
            created = token_create(
                principal=Principal.system(),
                owner=user,
                name=name,
                project=project,
                role=role,
                expires_at=expires_at,
            )
        except KirokuError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(
            f"Created token '{name}' for {user.username}. It will not be shown again:"
        )
        self.stdout.write(created.secret)
        if project is not None and not project.service_tokens_outlive_creator:
            is_member = user.memberships.filter(project=project).exists()
            if not service_token_creator_present(created.token, creator_is_member=is_member):
                self.stderr.write(
                    f"Warning: {user.username} has no role in project '{project.slug}', so "
                    "this token will not work until they do (or until the project lets "
                    "service tokens outlive their creator)."
                )
