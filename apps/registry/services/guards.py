"""What the registry registers into the runs and artifacts apps (apps.py): a run or a
file that a live model's version holds is not deleted."""

from __future__ import annotations

from apps.artifacts.models import Artifact
from apps.core.errors import Conflict
from apps.registry.models import (
    ModelVersion,
)
from apps.registry.services.common import version_label
from apps.runs.models import Run


def run_delete_guard(*, run: Run) -> None:
    """Registered into apps.runs.services.run_delete_guards: a run that versions of a
    live model point at is not deleted (their files and lineage are its)."""
    versions = list(
        ModelVersion.objects.filter(run=run, model__deleted_at__isnull=True)
        .select_related("model")
        .order_by("model__name", "number")[:5]
    )
    if versions:
        named = ", ".join(version_label(v) for v in versions)
        raise Conflict(
            f"registered model versions come from this run ({named}); delete those models "
            "first, or keep the run",
            code="run_has_model_versions",
        )


def artifact_delete_guard(*, artifact: Artifact) -> None:
    """Registered into apps.artifacts.services.artifact_delete_guards: a file that a
    version of a live model holds is not deleted (its manifest names it)."""
    # A run has few versions; SQLite has no JSON containment lookup.
    versions = ModelVersion.objects.filter(
        run_id=artifact.run_id, model__deleted_at__isnull=True
    ).select_related("model")
    held = next(
        (
            version
            for version in versions
            if any(entry["artifact_id"] == artifact.public_id for entry in version.manifest)
        ),
        None,
    )
    if held is not None:
        raise Conflict(
            f"{version_label(held)} holds this file; delete that model first",
            code="artifact_in_model_version",
        )
