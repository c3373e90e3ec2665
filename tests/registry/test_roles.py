"""Who may do what in the registry: viewers read, members register and move
unprotected aliases, admins protect aliases and decide promotion requests; outsiders
see nothing."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, Forbidden, NotFound
from apps.projects.models import Role
from apps.registry import services
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
)
from tests.factories import make_token
from tests.registry.helpers import (
    alias_target,
    as_token,
    as_user,
    decide,
    move,
    register,
    request_promotion,
)


@pytest.fixture
def model(project, member, run) -> RegisteredModel:
    """``resnet`` with versions 1 and 2, registered by the member."""
    register(as_user(member), project, run)
    register(as_user(member), project, run)
    return RegisteredModel.objects.get(project=project, name="resnet")


@pytest.fixture
def protected(model, admin) -> RegisteredModel:
    """``model`` whose alias ``champion`` an admin protected and pointed at version 1."""
    services.alias_protect(principal=as_user(admin), model=model, alias="champion", protected=True)
    move(as_user(admin), model, "champion", 1)
    return model


def _actions(project) -> list[str]:
    return list(
        AuditEvent.objects.filter(project_id=project.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_viewer_cannot_register(project, viewer, run):
    with pytest.raises(Forbidden):
        register(as_user(viewer), project, run)

    assert not RegisteredModel.objects.exists()


def test_a_member_can_register(project, member, run):
    version = register(as_user(member), project, run)

    assert (version.model.name, version.number, version.created_by) == ("resnet", 1, member)


def test_an_outsider_is_told_nothing_exists(project, outsider, run):
    with pytest.raises(NotFound):
        register(as_user(outsider), project, run)

    assert not RegisteredModel.objects.exists()


def test_an_outsider_cannot_find_a_model_to_move_its_alias(model, outsider):
    with pytest.raises(NotFound):
        move(as_user(outsider), model, "champion", 1)

    assert not ModelAlias.objects.exists()


def test_a_member_service_token_can_register(project, admin, run):
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")

    version = register(as_token(secret), project, run)

    assert version.number == 1
    # A service token acts for its project, never as its creator.
    assert version.created_by is None
    event = AuditEvent.objects.get(action="model.version_create")
    assert event.actor_type == "token"


def test_a_member_moves_an_unprotected_alias(model, member):
    move(as_user(member), model, "staging", 2)

    assert alias_target(model, "staging") == 2


def test_a_member_cannot_protect_an_alias(model, member):
    with pytest.raises(Forbidden):
        services.alias_protect(
            principal=as_user(member), model=model, alias="champion", protected=True
        )

    assert not ModelAlias.objects.filter(protected=True).exists()


def test_a_member_cannot_move_a_protected_alias(protected, member):
    with pytest.raises(Forbidden) as error:
        move(as_user(member), protected, "champion", 2)

    assert error.value.code == "alias_protected"
    assert alias_target(protected, "champion") == 1


def test_a_member_cannot_register_a_version_with_a_protected_alias(protected, project, member, run):
    with pytest.raises(Forbidden) as error:
        register(as_user(member), project, run, aliases=["champion"])

    assert error.value.code == "alias_protected"
    # Nothing was registered: no version 3, and the number was not used up.
    assert list(ModelVersion.objects.values_list("number", flat=True).order_by("number")) == [1, 2]
    assert RegisteredModel.objects.get(pk=protected.pk).last_version == 2
    assert alias_target(protected, "champion") == 1


def test_an_admin_moves_a_protected_alias(protected, admin):
    move(as_user(admin), protected, "champion", 2)

    assert alias_target(protected, "champion") == 2


def test_an_approved_promotion_moves_the_protected_alias(protected, project, member, admin):
    request = request_promotion(as_user(member), protected, "champion", 2)
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    decided = decide(as_user(admin), request, approve=True)

    assert decided.status == PromotionStatus.APPROVED
    assert decided.decided_by == admin
    assert alias_target(protected, "champion") == 2
    events = list(AuditEvent.objects.filter(id__gt=before).order_by("id"))
    assert [e.action for e in events] == ["model.promotion_decide", "model.alias_move"]
    decide_event, move_event = events
    assert decide_event.metadata["decision"] == "approved"
    assert move_event.metadata["promotion_request"] == request.pk
    assert (move_event.metadata["before"], move_event.metadata["after"]) == (1, 2)
    assert move_event.actor_label == admin.username


def test_a_rejected_promotion_leaves_the_alias(protected, member, admin):
    request = request_promotion(as_user(member), protected, "champion", 2)

    decided = decide(as_user(admin), request, approve=False)

    assert decided.status == PromotionStatus.REJECTED
    assert alias_target(protected, "champion") == 1
    assert _actions(protected.project)[-1] == "model.promotion_decide"


@pytest.mark.parametrize("first", [True, False], ids=["approved", "rejected"])
def test_a_request_is_decided_once(protected, member, admin, first):
    request = request_promotion(as_user(member), protected, "champion", 2)
    decide(as_user(admin), request, approve=first)
    count = AuditEvent.objects.count()

    with pytest.raises(Conflict) as error:
        decide(as_user(admin), request, approve=not first)

    assert error.value.code == "already_decided"
    assert PromotionRequest.objects.get(pk=request.pk).status == (
        PromotionStatus.APPROVED if first else PromotionStatus.REJECTED
    )
    assert alias_target(protected, "champion") == (2 if first else 1)
    assert AuditEvent.objects.count() == count


def test_a_member_cannot_decide_a_promotion(protected, member):
    request = request_promotion(as_user(member), protected, "champion", 2)

    with pytest.raises(Forbidden):
        decide(as_user(member), request, approve=True)

    assert PromotionRequest.objects.get(pk=request.pk).status == PromotionStatus.OPEN
    assert alias_target(protected, "champion") == 1
