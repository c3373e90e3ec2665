"""How the OpenAPI schema (and so the API docs at /api/docs/) groups the operations:
by area, decided in one place from the app that serves each view, so that a new view
lands in its area without a decorator.

``KirokuAutoSchema`` is DRF's DEFAULT_SCHEMA_CLASS; ``tags_in_order`` is a
drf-spectacular postprocessing hook that describes the areas and orders them. A view
may still name its own tags with ``extend_schema(tags=[...])``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

# (tag, description), in the order the docs show them.
API_AREAS: tuple[tuple[str, str], ...] = (
    ("runs", "Create, log to, finish, search and compare runs; metric histories."),
    ("artifacts", "Upload (direct to storage, multipart above a threshold) and download files."),
    ("collaboration", "Comments and mentions, and share links that show one run read-only."),
    ("notifications", "Slack and Notion destinations, the rules that post to them, deliveries."),
    ("CI", "Results reported by a CI job (the GitHub Action) and compared with the baseline."),
    ("projects", "Projects, their members and roles, settings, deletion, and the audit log."),
    ("accounts", "Who the caller is: the user and the token."),
)
# The app a view lives in (apps.<app>...) → its area.
APP_AREAS = {
    "runs": "runs",
    "artifacts": "artifacts",
    "collab": "collaboration",
    "notifications": "notifications",
    "ci": "CI",
    "projects": "projects",
    "audit": "projects",
    "accounts": "accounts",
}


def area_of(view_module: str) -> str | None:
    """The area of a view from its module's dotted name (``apps.collab.api.comments`` →
    ``"collaboration"``), or None for a module outside the areas."""
    parts = view_module.split(".")
    if len(parts) < 2 or parts[0] != "apps":
        return None
    return APP_AREAS.get(parts[1])


class KirokuAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        area = area_of(type(self.view).__module__)
        return [area] if area else super().get_tags()


def tags_in_order(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Postprocessing hook: the schema's top-level ``tags``, so that the docs show the
    areas in API_AREAS's order, each with its description."""
    result["tags"] = [{"name": name, "description": text} for name, text in API_AREAS]
    return result
