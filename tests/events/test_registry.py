"""The registry of domain event types: named once, each with its payload documented,
and none written without a subscriber."""

from __future__ import annotations

import pytest

from apps.events import registry
from apps.events.subscribers import subscribers_for


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match=r"'run\.finished' is registered twice"):
        registry.register("run.finished", payload={"run_id": "the run's public id"})


def test_a_type_without_a_documented_payload_is_refused():
    with pytest.raises(ValueError, match="must document its payload"):
        registry.register("test.undocumented", payload={})
    assert "test.undocumented" not in registry.names()


def test_an_unknown_name_says_where_to_register_it():
    with pytest.raises(KeyError, match=r"apps/events/registry\.py"):
        registry.get("run.nonexistent")


def test_a_constant_is_the_stored_name_and_documents_its_payload():
    entry = registry.get(registry.COMMENT_MENTION)
    assert (registry.COMMENT_MENTION, entry.name) == ("comment.mention", "comment.mention")
    assert set(entry.payload) == {
        "comment_id",
        "run_id",
        "comparison_id",
        "author",
        "mentioned",
        "excerpt",
    }


def test_every_registered_type_has_a_subscriber():
    # An event no one subscribes to costs an outbox row and a dispatch task for nothing.
    assert [name for name in registry.names() if not subscribers_for(name)] == []
