"""Building blocks of the registry tests: principals, complete artifacts written
straight into the database, and the services called as the API will call them (with
the cleaned inputs of apps.registry.validation)."""

from __future__ import annotations

import hashlib
import uuid

from apps.accounts.models import ApiToken, User
from apps.accounts.principal import Principal
from apps.artifacts.models import Artifact, ArtifactState
from apps.projects.models import Project
from apps.registry import services
from apps.registry.models import ModelAlias, ModelVersion, PromotionRequest, RegisteredModel
from apps.registry.validation import decision_clean, promotion_clean, version_create_clean
from apps.runs.models import Run


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_user(user: User) -> Principal:
    return Principal(user=user)


def as_token(secret: str) -> Principal:
    """The principal of a token made by tests.factories.make_token."""
    token = ApiToken.objects.select_related("user").get(prefix=secret[:12])
    return Principal(user=token.user, token=token)


def artifact(
    run: Run, path: str, data: bytes = b"weights", *, state: str = ArtifactState.COMPLETE
) -> Artifact:
    """The latest version of ``path`` among the run's artifacts, ``complete`` unless
    ``state`` says otherwise (no bytes in the store: only the rows are read)."""
    complete = state == ArtifactState.COMPLETE
    return Artifact.objects.create(
        run=run,
        project=run.project,
        path=path,
        version=1 if complete else None,
        latest=complete,
        size=len(data),
        sha256=sha(data),
        content_type="application/octet-stream",
        storage_key=f"{run.project_id}/{run.public_id}/{uuid.uuid4().hex}",
        state=state,
        method="put",
    )


def register(
    principal: Principal,
    project: Project,
    run: Run,
    name: str = "resnet",
    **body,
) -> ModelVersion:
    """Register the run's ``model/`` folder (or ``body["path"]``) as a version of ``name``."""
    data = version_create_clean({"run_id": run.public_id, "path": "model/", **body})
    return services.version_create(principal=principal, project=project, name=name, data=data)


def move(principal: Principal, model: RegisteredModel, alias: str, number: int) -> ModelAlias:
    return services.alias_set(
        principal=principal, model=model, alias=alias, number=number, reason="test"
    )


def request_promotion(
    principal: Principal, model: RegisteredModel, alias: str, number: int
) -> PromotionRequest:
    data = promotion_clean({"version": number, "alias": alias, "reason": "better on val"})
    return services.promotion_request(principal=principal, model=model, data=data)


def decide(principal: Principal, request: PromotionRequest, *, approve: bool) -> PromotionRequest:
    data = decision_clean({"approve": approve, "comment": "ok" if approve else "not yet"})
    return services.promotion_decide(principal=principal, request=request, data=data)


def alias_target(model: RegisteredModel, alias: str) -> int | None:
    """The number of the version ``alias`` points at now (None: nowhere)."""
    row = ModelAlias.objects.select_related("version").get(model=model, name=alias)
    return row.version.number if row.version is not None else None
