"""Saying which project was asked for and which the token can see, when the server
answers 404 for a project (it answers the same for "missing" and "not yours").

Only the server's own listing (``GET /projects``, scoped to the token) is named, so
the message never reveals a project the token may not read.
"""

from __future__ import annotations

import difflib
import time

from kiroku.errors import KirokuError, NotFound
from kiroku.transport import Transport

MAX_NAMED = 20
_PAGES = 3


def projects_visible(transport: Transport, *, deadline: float | None = None) -> list[str]:
    """The slugs of the projects the token can read (the first few pages: enough to
    name them in a message). Raises the read's KirokuError."""
    slugs: list[str] = []
    params: dict[str, object] = {"page_size": 100}
    for _ in range(_PAGES):
        page = transport.call("GET", "/projects", params=params, deadline=deadline)
        slugs += [str(p["slug"]) for p in page.get("results") or []]
        if not page.get("next"):
            break
        params = {"page_size": 100, "cursor": page["next"]}
    return slugs


def project_unknown_error(transport: Transport, project: str) -> NotFound:
    """A NotFound for ``project`` that lists the projects the token can see (or says
    it can see none), with the closest slug as a suggestion."""
    asked = f"project {project!r} does not exist or this token cannot see it"
    deadline = time.monotonic() + transport.settings.timeout
    try:
        slugs = projects_visible(transport, deadline=deadline)
    except KirokuError as exc:
        return NotFound(
            f"{asked} (the projects it can see could not be listed: {exc})",
            status=404,
            code="not_found",
        )
    if not slugs:
        message = (
            f"{asked}; the token can see no project: create one in the portal, or ask a "
            "project's admin to add you"
        )
    else:
        named = ", ".join(slugs[:MAX_NAMED])
        more = f" and {len(slugs) - MAX_NAMED} more" if len(slugs) > MAX_NAMED else ""
        message = f"{asked}; the token can see: {named}{more}"
        close = difflib.get_close_matches(project, slugs, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return NotFound(message, status=404, code="not_found")


def project_error_explained(transport: Transport, project: str, error: NotFound) -> NotFound:
    """``error`` (a 404 met while using ``project``) explained: when the project
    itself is what cannot be read, the error naming the projects the token can see;
    otherwise (a missing run, say) ``error`` unchanged."""
    deadline = time.monotonic() + transport.settings.timeout
    try:
        transport.call("GET", f"/projects/{project}", deadline=deadline)
    except NotFound:
        return project_unknown_error(transport, project)
    except KirokuError:
        return error
    return error
