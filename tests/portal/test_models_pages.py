"""The model registry's portal pages: the models list, a model's page with its forms
(alias moves, promotion requests and decisions, protection, archiving) and "Register
as model…" from a run's artifacts browser. Every form calls apps.registry.services;
a refusal is a message on the page, never an error page."""

from __future__ import annotations

import pytest

from apps.registry.models import ModelAlias, PromotionRequest, PromotionStatus, RegisteredModel
from apps.runs.models import MetricSummary, Run
from tests.registry.helpers import alias_target, artifact, as_user, register, request_promotion

XSS = "<script>alert(1)</script>"


@pytest.fixture
def run(project, member) -> Run:
    run = Run.objects.create(project=project, name="resnet50", author=member)
    artifact(run, "model/weights.pt", b"weights")
    artifact(run, "model/config.json", b"{}")
    artifact(run, "log.txt", b"training log")
    return run


@pytest.fixture
def model(project, member, run) -> RegisteredModel:
    register(as_user(member), project, run, aliases=["staging"])
    register(as_user(member), project, run)
    return RegisteredModel.objects.get(project=project, name="resnet")


def page(name: str = "resnet") -> str:
    return f"/projects/vision/models/{name}"


def post(client, name: str = "resnet", **data):
    return client.post(page(name), data, follow=True)


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.django_db
def test_a_viewer_sees_the_models_list_with_aliases_and_latest_version(portal_as, viewer, model):
    response = portal_as(viewer).get("/projects/vision/models")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/projects/vision/models/resnet"' in html
    assert "@staging → v1" in html
    assert "v2" in html


@pytest.mark.django_db
def test_the_runs_page_links_to_the_models(portal_as, viewer, project):
    html = portal_as(viewer).get("/projects/vision").content.decode()
    assert 'href="/projects/vision/models"' in html


@pytest.mark.django_db
def test_a_viewer_sees_versions_metrics_lineage_and_no_forms(
    portal_as, viewer, project, model, run
):
    from django.utils import timezone

    for key, last in [("val_acc", 0.91), ("loss", 0.2), ("zz_extra", 1.0), ("zz_more", 2.0)]:
        MetricSummary.objects.create(
            run=run,
            key=key,
            last=last,
            last_step=3,
            min=last,
            max=last,
            count=1,
            last_timestamp=timezone.now(),
        )
    response = portal_as(viewer).get(page())
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-version="2"' in html and 'data-version="1"' in html
    assert f'href="/projects/vision/runs/{run.public_id}"' in html
    assert "Lineage of v2" in html
    # No primary metrics: the runs' first few keys, by name.
    assert '<th scope="col" class="num">loss</th>' in html
    assert '<th scope="col" class="num">zz_more</th>' not in html
    assert "0.91" in html
    project.primary_metrics = ["zz_more"]
    project.save(update_fields=["primary_metrics"])
    html = portal_as(viewer).get(page()).content.decode()
    assert '<th scope="col" class="num">zz_more</th>' in html
    assert '<th scope="col" class="num">loss</th>' not in html
    assert 'name="action" value="alias_move"' not in html
    assert 'name="action" value="promotion_request"' not in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/projects/vision/models", "/projects/vision/models/resnet"])
def test_outsiders_get_404(portal_as, outsider, model, url):
    assert portal_as(outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_a_missing_model_is_404(portal_as, viewer, model):
    assert portal_as(viewer).get(page("nope")).status_code == 404


@pytest.mark.django_db
def test_a_member_moves_an_alias(portal_as, member, model):
    response = post(portal_as(member), action="alias_move", alias="staging", version="2")
    assert response.status_code == 200
    assert alias_target(model, "staging") == 2
    assert "@staging now points at version 2." in shown_messages(response)


@pytest.mark.django_db
def test_a_member_cannot_move_a_protected_alias(portal_as, admin, member, model):
    post(portal_as(admin), action="alias_protect", alias="staging", protected="on")
    assert ModelAlias.objects.get(model=model, name="staging").protected
    response = post(portal_as(member), action="alias_move", alias="staging", version="2")
    assert response.status_code == 200
    assert alias_target(model, "staging") == 1
    assert any("protected" in text for text in shown_messages(response))


@pytest.mark.django_db
def test_a_viewer_cannot_move_an_alias(portal_as, viewer, model):
    response = post(portal_as(viewer), action="alias_move", alias="staging", version="2")
    assert response.status_code == 200
    assert alias_target(model, "staging") == 1
    assert shown_messages(response)


@pytest.mark.django_db
def test_a_bad_version_is_a_message(portal_as, member, model):
    response = post(portal_as(member), action="alias_move", alias="staging", version="x")
    assert response.status_code == 200
    assert any("version" in text for text in shown_messages(response))


@pytest.mark.django_db
def test_a_member_requests_and_an_admin_approves(portal_as, admin, member, model):
    post(portal_as(admin), action="alias_protect", alias="champion", protected="on")
    response = post(
        portal_as(member),
        action="promotion_request",
        version="2",
        alias="champion",
        reason=f"best val {XSS}",
    )
    assert response.status_code == 200
    promotion = PromotionRequest.objects.get(model=model)
    assert promotion.status == PromotionStatus.OPEN
    html = portal_as(admin).get(page()).content.decode()
    assert XSS not in html and "&lt;script&gt;" in html
    assert 'name="decision" value="approve"' in html
    response = post(
        portal_as(admin), action="promotion_decide", request=str(promotion.pk), decision="approve"
    )
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.APPROVED
    assert alias_target(model, "champion") == 2
    # Decided already: a second click is a message, nothing changes.
    response = post(
        portal_as(admin), action="promotion_decide", request=str(promotion.pk), decision="reject"
    )
    assert response.status_code == 200
    assert any("already" in text for text in shown_messages(response))


@pytest.mark.django_db
def test_a_member_cannot_decide(portal_as, admin, member, model):
    promotion = request_promotion(as_user(member), model, "champion", 2)
    response = post(
        portal_as(member), action="promotion_decide", request=str(promotion.pk), decision="approve"
    )
    assert response.status_code == 200
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.OPEN
    html = portal_as(member).get(page()).content.decode()
    assert 'name="decision" value="approve"' not in html


@pytest.mark.django_db
def test_an_admin_archives_a_version(portal_as, admin, model):
    post(portal_as(admin), action="version_archive", version="2", archived="on")
    assert model.versions.get(number=2).archived_at is not None
    # v1 holds @staging: refused, as a message.
    response = post(portal_as(admin), action="version_archive", version="1", archived="on")
    assert model.versions.get(number=1).archived_at is None
    assert shown_messages(response)


@pytest.mark.django_db
def test_register_from_the_artifacts_browser(portal_as, member, viewer, project, run):
    html = (
        portal_as(member)
        .get(f"/projects/vision/runs/{run.public_id}/artifacts", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    action = f"/projects/vision/runs/{run.public_id}/register-model"
    assert f'action="{action}"' in html
    viewer_html = (
        portal_as(viewer)
        .get(f"/projects/vision/runs/{run.public_id}/artifacts", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "register-model" not in viewer_html
    response = portal_as(member).post(
        action, {"name": "detector", "path": "model/", "alias": "candidate"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/projects/vision/models/detector?version=1"
    model = RegisteredModel.objects.get(project=project, name="detector")
    assert alias_target(model, "candidate") == 1
    assert len(model.versions.get().manifest) == 2


@pytest.mark.django_db
def test_register_refusals_are_messages(portal_as, member, viewer, run):
    action = f"/projects/vision/runs/{run.public_id}/register-model"
    response = portal_as(member).post(action, {"name": "detector", "path": "nothing/"}, follow=True)
    assert response.status_code == 200
    assert any("Not registered" in text for text in shown_messages(response))
    assert not RegisteredModel.objects.filter(name="detector").exists()
    assert portal_as(viewer).post(action, {"name": "d", "path": "model/"}).status_code == 403
