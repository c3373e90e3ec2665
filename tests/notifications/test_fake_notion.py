"""The fake Notion API checks what Notion checks, and holds answers as scripted."""

from __future__ import annotations

import threading

import httpx
import pytest
from notion_client import Client
from notion_client.errors import APIResponseError


def client_for(fake, **options):
    return Client(auth=fake.token, base_url=fake.url, **options)


def page_body(fake, children):
    return {
        "parent": {"type": "data_source_id", "data_source_id": fake.data_source_id},
        "properties": {"Name": {"title": [{"type": "text", "text": {"content": "t"}}]}},
        "children": children,
    }


def paragraph(text):
    return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": text}}]}}


def test_fake_rejects_a_wrong_or_missing_notion_version(fake_notion):
    with pytest.raises(APIResponseError) as caught:
        client_for(fake_notion, notion_version="2022-06-28").databases.retrieve(
            fake_notion.database_id
        )
    assert (caught.value.status, caught.value.code) == (400, "validation_error")

    answer = httpx.get(
        f"{fake_notion.url}/v1/databases/{fake_notion.database_id}",
        headers={"Authorization": f"Bearer {fake_notion.token}"},
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "missing_version")


def test_fake_rejects_over_long_rich_text_and_oversized_arrays(fake_notion):
    client = client_for(fake_notion)
    cases = [
        [paragraph("x" * 2001)],
        [paragraph("😀" * 1001)],  # 2,002 UTF-16 code units
        [paragraph("ok")] * 101,
        [
            {
                "type": "table",
                "table": {
                    "table_width": 2,
                    "children": [{"type": "table_row", "table_row": {"cells": [[], [], []]}}],
                },
            }
        ],
    ]
    for children in cases:
        with pytest.raises(APIResponseError) as caught:
            client.pages.create(**page_body(fake_notion, children))
        assert (caught.value.status, caught.value.code) == (400, "validation_error")

    client.pages.create(**page_body(fake_notion, [paragraph("x" * 2000)]))
    assert len(fake_notion.pages) == 1


def test_fake_rejects_unknown_properties_and_wrong_value_types(fake_notion):
    client = client_for(fake_notion)
    for properties in (
        {"Nope": {"rich_text": []}},
        {"val/acc": {"rich_text": []}},
        {"Status": {"select": {"name": "a,b"}}},
        {"URL": {"url": 3}},
    ):
        body = page_body(fake_notion, [])
        body["properties"].update(properties)
        with pytest.raises(APIResponseError) as caught:
            client.pages.create(**body)
        assert caught.value.code == "validation_error"
    assert fake_notion.pages == []


def test_the_fake_holds_an_accepted_answer_until_released(fake_notion):
    fake_notion.fail_next("hang_after_accept")
    outcome = {}
    body = page_body(fake_notion, [paragraph("held")])
    sender = threading.Thread(
        target=lambda: outcome.update(page=client_for(fake_notion).pages.create(**body))
    )
    sender.start()

    assert fake_notion.wait_held(5)
    assert len(fake_notion.pages) == 1  # stored while the answer is held
    assert sender.is_alive()
    fake_notion.release()
    sender.join(5)

    assert outcome["page"]["id"] == fake_notion.pages[0]["id"]
