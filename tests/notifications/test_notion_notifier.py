"""NotionNotifier with the real notion_client against the loopback fake Notion API."""

from __future__ import annotations

import uuid

import pytest

from apps.notifications.models import Delivery, Destination
from apps.notifications.transports import notifier_for
from apps.notifications.transports.base import TransportError
from apps.notifications.transports.notion import notifier as notion_notifier
from apps.notifications.transports.notion.blocks import notion_page
from tests.notifications.fake_notion import FakeNotion
from tests.notifications.report_fixtures import RUN_URL, STARTED_AT, fixture_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def destination(project, fake_notion):
    destination = Destination(
        project=project, kind="notion", name="Runs", target=fake_notion.database_id
    )
    destination.set_credentials({"token": fake_notion.token})
    destination.save()
    return destination


def make_delivery(destination, *, attempts=1, key="7:1234", **fields):
    return Delivery.objects.create(
        project=destination.project,
        destination=destination,
        event_type="run.finished",
        idempotency_key=key,
        attempts=attempts,
        **fields,
    )


def without_ids(blocks):
    """Stored blocks as they were sent (the fake adds ids and has_children)."""
    return [{k: v for k, v in b.items() if k not in ("id", "has_children")} for b in blocks]


def paragraph(text):
    return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": text}}]}}


def long_report():
    """1,200 params: 13 tables of up to 100 rows, more blocks than one request holds."""
    params = tuple((f"p{i:04d}", str(i)) for i in range(1200))
    return fixture_report(params=params)


def test_send_creates_one_page_with_properties_and_children(fake_notion, destination):
    report = fixture_report()
    delivery = make_delivery(destination)

    sent = notifier_for(destination).send(delivery, report)

    assert len(fake_notion.pages) == 1
    page = fake_notion.pages[0]
    assert sent.remote_id == page["id"]
    assert page["parent"] == {
        "type": "data_source_id",
        "data_source_id": fake_notion.data_source_id,
    }
    props = page["properties"]
    assert props["Name"]["title"][0]["text"]["content"] == "resnet50-augmix-lr3e-4"
    assert props["Kiroku ID"]["rich_text"][0]["text"]["content"] == "7:1234"
    assert props["Status"] == {"select": {"name": "finished"}}
    assert props["Project"]["rich_text"][0]["text"]["content"] == "Vision"
    assert props["URL"] == {"url": RUN_URL}
    assert props["Created"] == {"date": {"start": STARTED_AT.isoformat()}}
    assert props["val/acc"] == {"number": 0.7712}
    assert props["val/loss"] == {"number": 0.9124}
    assert set(props) == set(fake_notion.schema)
    _, children = notion_page(report, fake_notion.schema)
    assert without_ids(page["children"]) == children
    delivery.refresh_from_db()
    assert (delivery.remote_id, delivery.progress) == (page["id"], len(children))
    destination.refresh_from_db()
    assert destination.remote["data_source_id"] == fake_notion.data_source_id
    assert fake_notion.count("blocks.children.append") == 0


def test_data_source_id_is_cached_between_sends(fake_notion, destination):
    notifier_for(destination).send(make_delivery(destination, key="1:1"), fixture_report(key="1:1"))
    destination.refresh_from_db()
    notifier_for(destination).send(make_delivery(destination, key="1:2"), fixture_report(key="1:2"))

    assert fake_notion.count("databases.retrieve") == 1
    assert len(fake_notion.pages) == 2


def test_long_page_is_created_then_appended_in_order(fake_notion, destination):
    report = long_report()
    delivery = make_delivery(destination)

    notifier_for(destination).send(delivery, report)

    _, children = notion_page(report, fake_notion.schema)
    assert len(fake_notion.pages) == 1
    assert without_ids(fake_notion.pages[0]["children"]) == children
    assert fake_notion.count("pages.create") == 1
    assert fake_notion.count("blocks.children.append") >= 1
    delivery.refresh_from_db()
    assert delivery.progress == len(children)


def test_more_than_100_top_level_blocks_go_in_batches_of_100(fake_notion, destination, monkeypatch):
    paragraphs = [paragraph(f"block {i}") for i in range(250)]
    monkeypatch.setattr(
        notion_notifier,
        "notion_page",
        lambda report, schema: (
            {"Name": {"title": [{"type": "text", "text": {"content": "x"}}]}},
            paragraphs,
        ),
    )

    notifier_for(destination).send(make_delivery(destination), fixture_report())

    sizes = [
        len(r["body"]["children"])
        for r in fake_notion.requests
        if r["op"] in ("pages.create", "blocks.children.append")
    ]
    assert sizes == [100, 100, 50]
    assert without_ids(fake_notion.pages[0]["children"]) == paragraphs


def test_rate_limited_is_transient_with_retry_after(fake_notion, destination):
    fake_notion.fail_next("rate_limited", retry_after=7)

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination), fixture_report())

    assert (caught.value.code, caught.value.permanent) == ("rate_limited", False)
    assert caught.value.retry_after == 7
    assert fake_notion.pages == []
    assert fake_notion.rate_limited_count == 1


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("overloaded", "http_529"),
        ("server_error", "internal_server_error"),
        ("service_unavailable", "service_unavailable"),
        ("conflict_error", "conflict_error"),
    ],
)
def test_server_trouble_is_transient(fake_notion, destination, kind, code):
    fake_notion.fail_next(kind)

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination), fixture_report())

    assert (caught.value.code, caught.value.permanent) == (code, False)
    assert fake_notion.pages == []


@pytest.mark.parametrize("code", ["unauthorized", "object_not_found", "validation_error"])
def test_permanent_errors(fake_notion, destination, code):
    fake_notion.fail_next(code)

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination), fixture_report())

    assert (caught.value.code, caught.value.permanent) == (code, True)


def test_wrong_token_and_missing_database_are_permanent(fake_notion, destination):
    destination.set_credentials({"token": "ntn_revoked"})
    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination), fixture_report())
    assert (caught.value.code, caught.value.permanent) == ("unauthorized", True)

    destination.set_credentials({"token": fake_notion.token})
    destination.target = "0" * 32
    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination, key="7:2"), fixture_report())
    assert (caught.value.code, caught.value.permanent) == ("object_not_found", True)


def test_connection_refused_is_transient(settings, destination):
    with FakeNotion() as gone:
        url = gone.url
    settings.KIROKU_NOTION_API_URL = url

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination), fixture_report())

    assert (caught.value.code, caught.value.permanent) == ("connection_error", False)


def test_timeout_after_accept_then_retry_adopts_the_page(fake_notion, destination, settings):
    settings.KIROKU_NOTIFY_TIMEOUT_SECONDS = 1
    fake_notion.fail_next("timeout_after_accept", delay=3.0)
    report = fixture_report()
    delivery = make_delivery(destination, attempts=1)

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(delivery, report)
    assert (caught.value.code, caught.value.permanent) == ("timeout", False)
    assert len(fake_notion.pages) == 1  # Notion has it; we do not know
    delivery.refresh_from_db()
    assert delivery.remote_id == ""

    delivery.attempts = 2
    sent = notifier_for(destination).send(delivery, report)

    assert len(fake_notion.pages) == 1
    assert sent.remote_id == fake_notion.pages[0]["id"]
    assert fake_notion.count("pages.create") == 1
    assert fake_notion.count("data_sources.query") == 1
    _, children = notion_page(report, fake_notion.schema)
    assert without_ids(fake_notion.pages[0]["children"]) == children


def test_rate_limited_duplicate_check_is_transient(fake_notion, destination):
    fake_notion.fail_next("rate_limited", op="data_sources.query", retry_after=3)

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).send(make_delivery(destination, attempts=2), fixture_report())

    assert (caught.value.code, caught.value.retry_after) == ("rate_limited", 3)
    assert fake_notion.pages == []


def test_a_vanished_data_source_is_looked_up_again(fake_notion, destination):
    notifier_for(destination).send(make_delivery(destination, key="1:1"), fixture_report(key="1:1"))
    destination.refresh_from_db()
    fake_notion.data_source_id = str(uuid.uuid4())  # the database got a new data source

    notifier_for(destination).send(make_delivery(destination, key="1:2"), fixture_report(key="1:2"))

    assert fake_notion.pages[1]["parent"]["data_source_id"] == fake_notion.data_source_id
    destination.refresh_from_db()
    assert destination.remote["data_source_id"] == fake_notion.data_source_id
    assert fake_notion.count("databases.retrieve") == 2


def test_retry_without_an_earlier_page_creates_it(fake_notion, destination):
    sent = notifier_for(destination).send(make_delivery(destination, attempts=3), fixture_report())

    assert fake_notion.count("data_sources.query") == 1
    assert [p["id"] for p in fake_notion.pages] == [sent.remote_id]


def test_without_kiroku_id_property_it_still_sends_without_the_check(destination, settings):
    with FakeNotion(kiroku_id=False) as fake:
        settings.KIROKU_NOTION_API_URL = fake.url
        destination.set_credentials({"token": fake.token})
        destination.target = fake.database_id

        notifier_for(destination).send(make_delivery(destination, attempts=2), fixture_report())

        assert fake.count("data_sources.query") == 0
        assert len(fake.pages) == 1
        assert "Kiroku ID" not in fake.pages[0]["properties"]


def test_append_failure_then_retry_continues_from_progress(fake_notion, destination):
    report = long_report()
    delivery = make_delivery(destination)
    fake_notion.fail_next("server_error", op="blocks.children.append")

    with pytest.raises(TransportError):
        notifier_for(destination).send(delivery, report)
    delivery.refresh_from_db()
    page = fake_notion.pages[0]
    assert delivery.remote_id == page["id"]
    assert 0 < delivery.progress == len(page["children"])

    delivery.attempts = 2
    sent = notifier_for(destination).send(delivery, report)

    _, children = notion_page(report, fake_notion.schema)
    assert sent.remote_id == page["id"]
    assert len(fake_notion.pages) == 1
    assert without_ids(page["children"]) == children
    assert fake_notion.count("data_sources.query") == 0  # remote_id known: no search


def test_append_accepted_but_timed_out_is_not_appended_twice(fake_notion, destination, settings):
    settings.KIROKU_NOTIFY_TIMEOUT_SECONDS = 1
    report = long_report()
    delivery = make_delivery(destination)
    fake_notion.fail_next("timeout_after_accept", op="blocks.children.append", delay=3.0)

    with pytest.raises(TransportError):
        notifier_for(destination).send(delivery, report)
    delivery.refresh_from_db()
    delivery.attempts = 2
    notifier_for(destination).send(delivery, report)

    _, children = notion_page(report, fake_notion.schema)
    assert without_ids(fake_notion.pages[0]["children"]) == children


def test_test_adds_the_kiroku_id_property_and_creates_a_test_page(destination, settings):
    with FakeNotion(kiroku_id=False) as fake:
        settings.KIROKU_NOTION_API_URL = fake.url
        destination.set_credentials({"token": fake.token})
        destination.target = fake.database_id
        destination.save()

        notifier_for(destination).test()

        assert fake.schema["Kiroku ID"]["type"] == "rich_text"
        assert fake.count("data_sources.update") == 1
        (page,) = fake.pages
        assert page["properties"]["Name"]["title"][0]["text"]["content"] == "Kiroku test message"
        destination.refresh_from_db()
        assert destination.remote["data_source_id"] == fake.data_source_id


def test_test_leaves_an_existing_kiroku_id_alone(fake_notion, destination):
    notifier_for(destination).test()

    assert fake_notion.count("data_sources.update") == 0
    assert len(fake_notion.pages) == 1


def test_test_maps_errors(fake_notion, destination):
    destination.set_credentials({"token": "ntn_wrong"})

    with pytest.raises(TransportError) as caught:
        notifier_for(destination).test()

    assert (caught.value.code, caught.value.permanent) == ("unauthorized", True)
    assert notifier_for(destination).pace_key() is None
