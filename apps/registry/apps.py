from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from apps.artifacts.services import artifact_delete_guards
        from apps.registry.services import artifact_delete_guard, run_delete_guard
        from apps.runs.services import run_delete_guards

        run_delete_guards.register("registry", run_delete_guard)
        artifact_delete_guards.register("registry", artifact_delete_guard)
