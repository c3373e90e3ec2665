"""Portal forms and links with ids in other digits, or text that cannot be stored:
a 404 or a message, never a 500, and never the object whose ASCII id it spells."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.collab.models import Comment
from apps.portal.models import SavedView
from apps.runs.models import Run

ARABIC_INDIC = str.maketrans("0123456789", "".join(map(chr, range(0x660, 0x66A))))
URL = "/projects/vision"


def other_digits(pk: int) -> str:
    """The id in Arabic-Indic digits: what int() would read as ``pk``."""
    return str(pk).translate(ARABIC_INDIC)


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["arabic-indic", "²", "1_0", " 1"])
def test_a_token_revoke_in_other_digits_is_404(portal_as, member, spelling):
    portal_as(member).post("/tokens", {"name": "laptop"})
    token = ApiToken.objects.get(user=member)
    raw = other_digits(token.pk) if spelling == "arabic-indic" else spelling
    assert portal_as(member).post("/tokens", {"revoke": raw}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_saved_views_in_other_digits_are_404(portal_as, member, project):
    view = SavedView.objects.create(project=project, name="mine")
    client = portal_as(member)
    assert client.get(URL, {"view": other_digits(view.pk)}).status_code == 404
    assert client.get(URL, {"view": "²"}).status_code == 404
    assert client.post(f"{URL}/views", {"delete": other_digits(view.pk)}).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["edit", "delete"])
def test_a_comment_action_in_other_digits_is_404(portal_as, member, run_id, action):
    base = f"{URL}/runs/{run_id}/comments"
    client = portal_as(member)
    client.post(base, {"body": "keep me"})
    comment = Comment.objects.get()
    response = client.post(
        base, {"action": action, "comment": other_digits(comment.pk), "body": "changed"}
    )
    assert response.status_code == 404
    comment.refresh_from_db()
    assert (comment.body, comment.deleted_at) == ("keep me", None)


@pytest.mark.django_db
def test_a_reply_to_a_parent_in_other_digits_is_refused(portal_as, member, run_id):
    base = f"{URL}/runs/{run_id}/comments"
    client = portal_as(member)
    client.post(base, {"body": "top"})
    top = Comment.objects.get()
    html = client.post(base, {"body": "reply", "parent": other_digits(top.pk)}).content.decode()
    assert "parent must be a comment id (an integer)" in html
    assert Comment.objects.count() == 1


@pytest.mark.django_db
def test_a_share_link_lifetime_in_other_digits_is_refused(portal_as, member, run_id):
    response = portal_as(member).post(
        f"{URL}/runs/{run_id}/share", {"expires_in": "\u0663\u0666\u0660\u0660"}
    )
    assert response.status_code == 200
    assert "expires_in must be whole seconds" in response.content.decode()


@pytest.mark.django_db
def test_a_share_link_revoke_in_other_digits_is_404(portal_as, member, run_id):
    assert (
        portal_as(member).post(f"{URL}/runs/{run_id}/share", {"revoke": "\u0661"}).status_code
        == 404
    )


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_form_arrives_as_replacement_characters(portal_as, member, run_id):
    # A browser cannot send one, but a client can percent-encode its UTF-8-like bytes:
    # they are not UTF-8, so Django reads them as U+FFFD, which is stored as any text.
    response = portal_as(member).post(
        f"{URL}/runs/{run_id}/notes",
        data=b"notes=a%ED%A0%80b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302  # saved, back to the run page
    assert Run.objects.get(public_id=run_id).notes == "a\ufffd\ufffd\ufffdb"


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_comment_form_is_stored_as_replacement_characters(
    portal_as, member, run_id
):
    response = portal_as(member).post(
        f"{URL}/runs/{run_id}/comments",
        data=b"body=x%ED%B0%80",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert Comment.objects.get().body == "x\ufffd\ufffd\ufffd"
