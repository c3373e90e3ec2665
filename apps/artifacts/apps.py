from django.apps import AppConfig


class ArtifactsConfig(AppConfig):
    name = "apps.artifacts"
    label = "artifacts"

    def ready(self) -> None:
        from apps.artifacts.cleanup import (
            artifacts_release_for_project,
            artifacts_release_for_run,
        )
        from apps.artifacts.storage import store_check
        from apps.core.health import readiness_checks_hook
        from apps.projects.services import project_purge_hooks
        from apps.runs.services import run_purge_hooks

        readiness_checks_hook.register("artifact_store", store_check)
        run_purge_hooks.register("artifacts", artifacts_release_for_run)
        project_purge_hooks.register("artifacts", artifacts_release_for_project)
