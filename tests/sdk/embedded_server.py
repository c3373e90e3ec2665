"""The embedded default as a child process, for tests that need what ``make run``
starts rather than the test's live server: ``python -m tests.sdk.embedded_server``,
run from the repository root with ``KIROKU_VAR_DIR`` naming an empty folder (and no
``DATABASE_URL`` or ``REDIS_URL``), migrates the SQLite file under it, creates user
``bob_member``, a member of project ``vision``, prints ``token <secret>``, and then
runs ``manage.py serve 127.0.0.1:0``: Django's threaded server and the in-process
periodic jobs, each thread on a connection of its own. The port chosen is in serve's
``Starting development server at http://127.0.0.1:<port>/`` line."""

from __future__ import annotations

import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection

    from apps.accounts.models import User
    from apps.projects.models import Membership, Project, Role
    from tests.factories import make_token

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user(username="bob_member")
    project = Project.objects.create(slug="vision", name="Vision")
    Membership.objects.create(project=project, user=user, role=Role.MEMBER)
    print(f"token {make_token(user)}", flush=True)
    connection.close()  # the server's threads open their own
    call_command("serve", "127.0.0.1:0")


if __name__ == "__main__":
    main()
