"""The run page: overview, params and summary, notes, charts, artifacts."""

from apps.portal.views.run.artifacts import RunArtifactsView
from apps.portal.views.run.collab import RunCommentsView, RunShareLinksView
from apps.portal.views.run.page import RunNotesView, RunPageView, RunStatusView

__all__ = [
    "RunArtifactsView",
    "RunCommentsView",
    "RunNotesView",
    "RunPageView",
    "RunShareLinksView",
    "RunStatusView",
]
