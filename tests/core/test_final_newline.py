"""Names and ids are checked whole: a final newline is not part of a valid value.

Each pattern is anchored with ``^…$``, and ``$`` also matches before a final
newline, so every check uses ``fullmatch`` (found by the key validator's property
test, tests/runs/test_key_properties.py). Usernames and slugs are trimmed
before they are checked, so a newline never reaches them."""

from __future__ import annotations

import pytest

from tests.core.test_input_errors import assert_error


@pytest.mark.django_db
def test_a_client_id_with_a_final_newline_is_400(as_member):
    response = as_member.post("/api/v1/projects/vision/runs", {"client_id": "abcdefgh\n"})
    assert_error(response, 400, "client_id")


@pytest.mark.django_db
def test_a_batch_id_with_a_final_newline_is_400(as_member, run_id):
    body = {"batch_id": "b-1\n", "metrics": [{"key": "loss", "value": 1.0, "step": 0}]}
    assert_error(as_member.post(f"/api/v1/runs/{run_id}/log", body), 400, "batch_id")


@pytest.mark.django_db
def test_a_parent_id_with_a_final_newline_is_400(as_member, run_id):
    response = as_member.post("/api/v1/projects/vision/runs", {"parent_id": f"{run_id}\n"})
    assert_error(response, 400, "parent_id")
