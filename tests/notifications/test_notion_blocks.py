"""The Notion page of a Report: golden properties and blocks, schema fitting, limits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from apps.notifications.report_content import MetricLine, ParamChange, RunRef
from apps.notifications.transports.notion.blocks import MAX_BYTES, batch_end, notion_page
from tests.notifications.fake_notion_checks import (
    check_children,
    check_properties,
    utf16_len,
)
from tests.notifications.report_fixtures import (
    BASELINE_URL,
    COMPARE_URL,
    PROJECT_URL,
    RUN_URL,
    alias_move_report,
    crash_report,
    fixture_report,
    mention_report,
)

GOLDEN = Path(__file__).parent / "golden"


def prop(kind, prop_id, **config):
    return {"id": prop_id, "type": kind, kind: config}


# A data source as Notion describes it: some properties Kiroku fills, one it cannot
# ("train/throughput" is text, not a number) and one it leaves alone ("Notes").
SCHEMA = {
    "Name": prop("title", "title"),
    "Status": prop("select", "a%3Ab", options=[]),
    "Project": prop("select", "c%3Ad", options=[]),
    "URL": prop("url", "e%3Af"),
    "Created": prop("date", "g%3Ah"),
    "Kiroku ID": prop("rich_text", "i%3Aj"),
    "val/acc": prop("number", "k%3Al", format="percent"),
    "val/loss": prop("number", "m%3An", format="number"),
    "train/throughput": prop("rich_text", "o%3Ap"),
    "Notes": prop("rich_text", "q%3Ar"),
}


# A model registry data source: the model pages' own columns next to the run ones.
MODEL_SCHEMA = {
    "Name": prop("title", "title"),
    "Status": prop("select", "a%3Ab", options=[]),
    "Model": prop("select", "s%3At", options=[]),
    "Version": prop("number", "u%3Av", format="number"),
    "Alias": prop("rich_text", "w%3Ax"),
    "Run": prop("url", "y%3Az"),
    "Kiroku ID": prop("rich_text", "i%3Aj"),
    "val/acc": prop("number", "k%3Al", format="percent"),
    "val/loss": prop("number", "m%3An", format="number"),
}


def golden(name):
    return json.loads((GOLDEN / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("name", "report"),
    [
        ("notion_run_finished", fixture_report()),
        ("notion_run_crashed_no_baseline", crash_report()),
        ("notion_comment_mention", mention_report()),
    ],
)
def test_golden_pages(name, report):
    properties, children = notion_page(report, SCHEMA)

    assert {"properties": properties, "children": children} == golden(name)


def test_alias_move_with_comparison_matches_golden():
    properties, children = notion_page(alias_move_report(), MODEL_SCHEMA)

    assert {"properties": properties, "children": children} == golden("notion_model_alias_moved")
    check_properties(properties, MODEL_SCHEMA, need_title=True)
    check_children(children, "body.children")


def test_model_columns_take_text_where_the_schema_has_text():
    schema = {
        "Name": prop("title", "title"),
        "Version": prop("rich_text", "u%3Av"),
        "Run": prop("rich_text", "y%3Az"),
    }

    properties, _ = notion_page(alias_move_report(), schema)

    assert properties["Version"] == {"rich_text": [{"type": "text", "text": {"content": "v4"}}]}
    assert properties["Run"] == {
        "rich_text": [{"type": "text", "text": {"content": "resnet50-augmix-lr3e-4"}}]
    }


def test_golden_pages_pass_the_fakes_checks():
    for report in (fixture_report(), crash_report(), mention_report()):
        properties, children = notion_page(report, SCHEMA)
        check_properties(properties, SCHEMA, need_title=True)
        check_children(children, "body.children")


def test_properties_fit_whatever_schema_the_data_source_has():
    schema = {
        "Run": prop("title", "title"),
        "status": prop(
            "status", "s", options=[{"id": "1", "name": "Running"}, {"id": "2", "name": "Finished"}]
        ),
        "project": prop("rich_text", "p"),
        "url": prop("rich_text", "u"),  # not a url property: left alone
        "Date": prop("date", "d"),
        "kiroku id": prop("rich_text", "k"),
        "val/acc": prop("number", "n"),
        "val/loss": prop("select", "l"),  # not a number property: left alone
    }

    properties, _ = notion_page(fixture_report(), schema)

    assert properties["Run"]["title"][0]["text"]["content"] == "resnet50-augmix-lr3e-4"
    assert properties["status"] == {"status": {"name": "Finished"}}
    assert properties["project"]["rich_text"][0]["text"]["content"] == "Vision"
    assert properties["Date"] == {"date": {"start": "2025-03-14T09:30:00+00:00"}}
    assert properties["kiroku id"]["rich_text"][0]["text"]["content"] == "7:1234"
    assert properties["val/acc"] == {"number": 0.7712}
    assert set(properties) == {"Run", "status", "project", "Date", "kiroku id", "val/acc"}
    check_properties(properties, schema, need_title=True)


def test_a_status_without_a_matching_option_is_not_set():
    schema = {"Name": prop("title", "title"), "Status": prop("status", "s", options=[])}

    properties, _ = notion_page(fixture_report(status="crashed"), schema)

    assert set(properties) == {"Name"}


def test_without_a_run_the_title_is_the_reports_title():
    report = fixture_report(run=None, started_at=None, title="CI report")

    properties, children = notion_page(report, SCHEMA)

    assert properties["Name"]["title"][0]["text"]["content"] == "CI report"
    assert "URL" not in properties
    assert properties["Created"] == {"date": {"start": report.created_at.isoformat()}}
    check_children(children, "body.children")


def test_nan_and_infinite_metrics_get_no_number():
    metrics = (MetricLine("val/acc", math.nan, 0.5, "max"), MetricLine("val/loss", math.inf))

    properties, children = notion_page(fixture_report(metrics=metrics), SCHEMA)

    assert "val/acc" not in properties
    assert "val/loss" not in properties
    row = children[3]["table"]["children"][1]["table_row"]["cells"]
    assert [cell[0]["text"]["content"] if cell else "" for cell in row] == [
        "val/acc",
        "NaN",
        "0.5",
        "",
    ]


def all_text(value):
    """Every text object anywhere in a JSON value."""
    if isinstance(value, dict):
        if isinstance(value.get("text"), dict) and "content" in value["text"]:
            return [value]
        return [t for v in value.values() for t in all_text(v)]
    if isinstance(value, list):
        return [t for v in value for t in all_text(v)]
    return []


def hostile_report():
    return fixture_report(
        run=RunRef("r1", "<!channel> " + "n" * 2989, RUN_URL),
        baseline=RunRef("r2", "<https://evil.example|ok> [x](https://evil.example)", BASELINE_URL),
        detail="c" * 3743 + "😀" * 1250 + "<!here>",  # 5,000 characters
        detail_url="javascript:alert(1)",
        params=tuple((f"param.{i:03d}", "v" * 600) for i in range(250)),
        param_changes=tuple(ParamChange(f"param.{i:03d}", "v" * 600, "w") for i in range(120)),
        tags=(("note", "t" * 5000),),
    )


def test_huge_and_hostile_text_is_split_within_every_limit():
    report = hostile_report()

    properties, children = notion_page(report, SCHEMA)

    check_properties(properties, SCHEMA, need_title=True)
    texts = all_text(properties) + all_text(children)
    assert all(utf16_len(t["text"]["content"]) <= 2000 for t in texts)
    title = "".join(t["text"]["content"] for t in properties["Name"]["title"])
    assert title == report.run.name  # 3,000 characters, whole, in two text objects
    assert len(properties["Name"]["title"]) == 2
    detail = [b for b in children if b["type"] == "paragraph"][-1]["paragraph"]["rich_text"]
    assert "".join(t["text"]["content"] for t in detail) == report.detail
    tables = [b["table"] for b in children if b["type"] == "table"]
    assert [len(t["children"]) for t in tables] == [5, 100, 100, 53]  # metrics, params
    assert all(
        len(r["table_row"]["cells"]) == t["table_width"] for t in tables for r in t["children"]
    )
    start = 0
    while start < len(children):
        end = batch_end(children, start)
        check_children(children[start:end], "body.children")
        start = end


def test_only_kiroku_urls_become_links():
    properties, children = notion_page(hostile_report(), SCHEMA)

    links = {t["text"]["link"]["url"] for t in all_text(children) if t["text"].get("link")}

    assert links == {RUN_URL, BASELINE_URL, COMPARE_URL, PROJECT_URL}
    assert all("link" not in t["text"] for t in all_text(properties))


def test_a_run_url_that_is_not_http_is_neither_linked_nor_a_property():
    report = fixture_report(run=RunRef("r1", "run", "javascript:alert(1)"))

    properties, children = notion_page(report, SCHEMA)

    assert "URL" not in properties
    links = [t["text"]["link"]["url"] for t in all_text(children) if t["text"].get("link")]
    assert "javascript:alert(1)" not in links


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/projects/vision/runs/r1",
        "http://localhost:8000/projects/vision/runs/r1",
        "http://10.0.0.5/projects/vision/runs/r1",
        "http://kiroku/projects/vision/runs/r1",
    ],
)
def test_links_to_a_laptop_or_private_host_stay_plain_text(url):
    report = fixture_report(run=RunRef("r1", "run", url))

    properties, children = notion_page(report, SCHEMA)

    assert "URL" not in properties
    links = [t["text"]["link"]["url"] for t in all_text(children) if t["text"].get("link")]
    assert url not in links


def paragraphs(n, text="x"):
    return [
        {
            "object": "block",
            "type": "paragraph",
            "paragraph": {"rich_text": [{"text": {"content": text}}]},
        }
        for _ in range(n)
    ]


def table(rows, cell="x"):
    row = {
        "object": "block",
        "type": "table_row",
        "table_row": {"cells": [[{"text": {"content": cell}}]]},
    }
    return {
        "object": "block",
        "type": "table",
        "table": {"table_width": 1, "children": [row] * rows},
    }


def batches(children):
    cuts, start = [], 0
    while start < len(children):
        end = batch_end(children, start)
        cuts.append(end - start)
        start = end
    return cuts


def test_batches_hold_at_most_100_top_level_blocks():
    assert batches(paragraphs(250)) == [100, 100, 50]
    assert batches(paragraphs(100)) == [100]
    assert batches([]) == []


def test_batches_hold_at_most_1000_blocks_with_nested_ones():
    # Each table is 1 + 100 blocks: nine fit in one request, the tenth does not.
    assert batches([table(100)] * 12) == [9, 3]


def test_batches_stay_under_the_payload_size():
    heavy = paragraphs(200, text="é" * 2000)  # about 4 KB each in UTF-8: 800 KB in all
    start, cuts = 0, []
    while start < len(heavy):
        end = batch_end(heavy, start)
        assert len(json.dumps(heavy[start:end], ensure_ascii=False).encode()) <= MAX_BYTES
        cuts.append(end - start)
        start = end
    assert len(cuts) == 3
    assert max(cuts) < 100
