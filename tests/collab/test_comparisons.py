"""Saved comparisons in the services: what a comparison may hold, and comments and
share links on one (exactly one target, the comparison's audit target and event)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from apps.accounts.principal import Principal
from apps.collab import services
from apps.collab.models import Comment, SavedComparison, ShareLink
from apps.core.errors import Forbidden, Invalid, NotFound
from apps.events.models import DomainEvent
from apps.runs.models import Run


def as_user(user) -> Principal:
    return Principal(user=user)


@pytest.fixture
def runs(project):
    return [Run.objects.create(project=project, name=f"r{i}") for i in range(3)]


@pytest.fixture
def comparison(project, runs, member):
    return services.comparison_create(
        principal=as_user(member),
        project=project,
        name="sweep",
        run_ids=[runs[0].public_id, runs[1].public_id],
    )


def test_repeated_ids_count_once_in_their_order(project, runs, member):
    ids = [runs[2].public_id, runs[0].public_id, runs[2].public_id]
    saved = services.comparison_create(
        principal=as_user(member), project=project, name="x", run_ids=ids
    )
    assert saved.run_ids == [runs[2].public_id, runs[0].public_id]


def test_at_most_twenty_runs(project, member):
    ids = [Run.objects.create(project=project).public_id for _ in range(21)]
    with pytest.raises(Invalid) as exc:
        services.comparison_create(
            principal=as_user(member), project=project, name="x", run_ids=ids
        )
    assert exc.value.message == "a comparison holds 2 to 20 runs (got 21)"


def test_a_deleted_run_cannot_be_saved(project, runs, member):
    from django.utils import timezone

    Run.objects.filter(pk=runs[1].pk).update(deleted_at=timezone.now())
    with pytest.raises(Invalid) as exc:
        services.comparison_create(
            principal=as_user(member),
            project=project,
            name="x",
            run_ids=[runs[0].public_id, runs[1].public_id],
        )
    assert exc.value.message == "every run must be a live run of this project"


def test_a_viewer_cannot_save_and_an_outsider_is_not_told(project, runs, viewer, outsider):
    ids = [runs[0].public_id, runs[1].public_id]
    with pytest.raises(Forbidden):
        services.comparison_create(
            principal=as_user(viewer), project=project, name="x", run_ids=ids
        )
    with pytest.raises(NotFound):
        services.comparison_create(
            principal=as_user(outsider), project=project, name="x", run_ids=ids
        )
    assert SavedComparison.objects.count() == 0


def test_a_comment_names_exactly_one_target(comparison, runs):
    for target in ({}, {"run": runs[0], "comparison": comparison}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Comment.objects.create(author_label="x", body="b", body_html="b", **target)


def test_a_share_link_names_exactly_one_target(comparison, runs):
    from datetime import timedelta

    from django.utils import timezone

    for n, target in enumerate(({}, {"run": runs[0], "comparison": comparison})):
        with pytest.raises(IntegrityError), transaction.atomic():
            ShareLink.objects.create(
                token_hash=f"{n:064}", expires_at=timezone.now() + timedelta(days=1), **target
            )


def test_a_comparison_comments_mention_event_names_the_comparison(
    comparison, project, viewer, django_capture_on_commit_callbacks
):
    comment = services.comment_create(
        principal=as_user(viewer), target=comparison, body="hi @bob_member"
    )
    event = DomainEvent.objects.get(type="comment.mention")
    assert (event.project_id, event.run_id) == (project.pk, None)
    assert event.payload == {
        "comment_id": comment.pk,
        "comparison_id": comparison.pk,
        "author": "carol_viewer",
        "mentioned": ["bob_member"],
        "excerpt": "hi @bob_member",
    }


def test_editing_a_comparison_comment_is_audited_on_the_comparison(comparison, viewer):
    from apps.audit.models import AuditEvent

    comment = services.comment_create(principal=as_user(viewer), target=comparison, body="a")
    services.comment_edit(principal=as_user(viewer), comment=comment, body="b")
    event = AuditEvent.objects.get(action="comment.edit")
    assert (event.target_type, event.target_id, event.target_label) == (
        "comparison",
        str(comparison.pk),
        "sweep",
    )


def test_a_comparison_link_never_shares_files(comparison, member):
    created = services.share_link_create(
        principal=as_user(member), target=comparison, include_artifacts=True
    )
    assert (created.link.comparison_id, created.link.include_artifacts) == (comparison.pk, False)
    assert services.share_link_check(token=created.token).pk == created.link.pk
