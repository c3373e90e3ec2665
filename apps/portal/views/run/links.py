"""Where a run's page sends its requests. A member's page uses the project's routes
and the API; a shared page (``/s/<token>``) only routes under its token, so nothing
on it leads into the project."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class RunLinks:
    metrics: str
    history: str
    status: str
    # The folder listing; None when the page shows no artifacts.
    artifacts: str | None
    # Downloads are ``{downloads}{artifact id}/download``.
    downloads: str
    shared: bool = False


def member_links(project_slug: str, run_id: str) -> RunLinks:
    kwargs = {"slug": project_slug, "run_id": run_id}
    return RunLinks(
        metrics=reverse("run-metrics", kwargs={"run_id": run_id}),
        history=reverse("run-metric-history", kwargs={"run_id": run_id}),
        status=reverse("portal:run-status", kwargs=kwargs),
        artifacts=reverse("portal:run-artifacts", kwargs=kwargs),
        downloads="/api/v1/artifacts/",
    )


def shared_links(token: str, *, include_artifacts: bool) -> RunLinks:
    base = reverse("portal:shared-run", kwargs={"token": token})
    return RunLinks(
        metrics=f"{base}/metrics",
        history=f"{base}/metrics/history",
        status=f"{base}/status",
        artifacts=f"{base}/artifacts" if include_artifacts else None,
        downloads=f"{base}/artifacts/",
        shared=True,
    )
