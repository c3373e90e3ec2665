from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from apps.accounts.principal import Principal
        from apps.core.views import principal_source

        principal_source.register("accounts", Principal.from_request)
