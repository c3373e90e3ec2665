"""The artifact store configured by ``KIROKU_ARTIFACT_STORE``."""

from __future__ import annotations

from django.conf import settings

from apps.artifacts.storage.base import Store
from apps.core.health import OK


def store_get() -> Store:
    """The configured store (S3 or the local folder). Cheap: S3 clients are cached."""
    config = settings.KIROKU_ARTIFACT_STORE
    if config["backend"] == "s3":
        from apps.artifacts.storage.s3 import S3Store

        return S3Store(
            bucket=config["bucket"],
            endpoint_url=settings.KIROKU_S3_ENDPOINT_URL,
            region=settings.KIROKU_S3_REGION,
        )
    from apps.artifacts.storage.local import LocalStore

    return LocalStore(root=config["root"])


def store_check() -> str:
    """``/readyz``'s ``artifact_store`` check: ``"ok"``, or CheckFailed from the store."""
    store_get().check()
    return OK


def key_prefix() -> str:
    """What every storage key starts with (the S3 prefix; nothing for a local folder)."""
    config = settings.KIROKU_ARTIFACT_STORE
    return config.get("prefix", "") if config["backend"] == "s3" else ""
