"""The Slack message builder: golden output for a fixture run, and hostile input that
must stay inert and within Slack's limits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from apps.notifications.report_content import Mention, MetricLine, ModelRef, ParamChange, RunRef
from apps.notifications.transports.slack import blocks as slack_blocks
from apps.notifications.transports.slack.blocks import slack_message, units
from tests.notifications.fake_slack_checks import block_errors
from tests.notifications.report_fixtures import (
    BASE_URL,
    alias_move_report,
    crash_report,
    fixture_report,
    mention_report,
)

GOLDEN = Path(__file__).parent / "golden"

HOSTILE = "<!channel> & <https://evil|ok> <@U123>"
# As mrkdwn text; inside a link label "|" is replaced as well.
HOSTILE_ESCAPED = "&lt;!channel&gt; &amp; &lt;https://evil|ok&gt; &lt;@U123&gt;"
HOSTILE_LABEL = "&lt;!channel&gt; &amp; &lt;https://evil¦ok&gt; &lt;@U123&gt;"


def golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def test_finished_run_matches_golden():
    assert slack_message(fixture_report()) == golden("slack_run_finished")


def test_crash_without_baseline_matches_golden():
    assert slack_message(crash_report()) == golden("slack_run_crashed_no_baseline")


def test_comment_mention_matches_golden():
    message = slack_message(mention_report(), user_ids={"alice_admin": "U0ALICE01"})
    assert message == golden("slack_comment_mention")


def test_alias_move_with_comparison_matches_golden():
    assert slack_message(alias_move_report()) == golden("slack_model_alias_moved")


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """Every text Slack parses as mrkdwn: the fallback and each mrkdwn object."""
    texts = [message["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return texts


def assert_within_limits(message: dict[str, Any]) -> None:
    """Slack's own limits (ranges by nature: a builder may use fewer); the exact shape
    of each message is pinned by the golden files and the block-type assertions."""
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    assert 0 < units(message["text"]) <= 4000
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < units(block["text"]["text"]) <= 150
        if block["type"] == "section":
            if "text" in block:
                assert 0 < units(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            for field in block.get("fields", []):
                assert 0 < units(field["text"]) <= 2000
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            for element in block["elements"]:
                assert 0 < units(element["text"]) <= 3000
    assert block_errors(blocks) == []


def assert_inert(message: dict[str, Any], *, user_ids: tuple[str, ...] = ()) -> None:
    """The only live <…> sequences are links to Kiroku and mentions we resolved."""
    for text in mrkdwn_texts(message):
        assert "<!" not in text
        for inner in re.findall(r"<([^<>]*)>", text):
            if inner.startswith("@"):
                assert inner[1:] in user_ids, text
            else:
                url, _, label = inner.partition("|")
                assert url.startswith(BASE_URL + "/"), text
                assert label and "|" not in label, text
        # No "<" opens a sequence that is not closed (a cut link would do that).
        assert text.count("<") == text.count(">"), text


def hostile_report(**overrides: Any):
    long = "x" * 3000
    return fixture_report(
        title=f"Run finished {HOSTILE}",
        project_name=f"{HOSTILE} project",
        run=RunRef(public_id="r1", name=f"{HOSTILE}\n*Status:* fake {long}", url=f"{BASE_URL}/r"),
        status=f"finished {HOSTILE}",
        author=HOSTILE + long,
        branch=f"`{HOSTILE}` {long}",
        commit=HOSTILE,
        tags=tuple((f"{HOSTILE}{i}", long) for i in range(100)),
        metrics=tuple(MetricLine(f"{HOSTILE}/{i}{long}", i / 7, i / 9, "max") for i in range(100)),
        baseline=RunRef(public_id="r2", name=HOSTILE + long, url=f"{BASE_URL}/b"),
        baseline_label=HOSTILE + long,
        param_changes=tuple(
            ParamChange(f"{HOSTILE}{i}{long}", HOSTILE + long, HOSTILE) for i in range(200)
        ),
        detail=(HOSTILE + "\n") * 400,
        detail_url=f"{BASE_URL}/c",
        mentions=tuple(Mention(f"{HOSTILE}{i}", f"u{i}@example.com") for i in range(50)),
    )


def test_hostile_report_stays_within_limits_and_inert():
    message = slack_message(hostile_report())

    assert_within_limits(message)
    assert_inert(message)
    # Everything still has its one block, however much each carries.
    assert [block["type"] for block in message["blocks"]] == [
        "header",
        "section",
        "context",
        "section",
        "section",
        "section",
        "section",
        "context",
    ]


def test_hostile_text_is_escaped_exactly():
    report = fixture_report(
        run=RunRef(public_id="r1", name=HOSTILE, url=f"{BASE_URL}/r"),
        author=HOSTILE,
    )

    summary = slack_message(report)["blocks"][1]["text"]["text"]

    assert summary.startswith(f"*<{BASE_URL}/r|{HOSTILE_LABEL}>* · ")
    assert f"*Author:* {HOSTILE_ESCAPED} · " in summary


def test_a_name_cannot_add_lines_to_the_message():
    report = fixture_report(
        run=RunRef(public_id="r1", name="ok\n*Status:* passed\u2028x", url=f"{BASE_URL}/r")
    )

    summary = slack_message(report)["blocks"][1]["text"]["text"]

    assert summary.splitlines()[0] == f"*<{BASE_URL}/r|ok *Status:* passed x>* · " + (
        f"<{BASE_URL}/projects/vision|Vision>"
    )


def test_long_lists_say_how_much_they_left_out():
    message = slack_message(hostile_report())
    texts = "\n".join(mrkdwn_texts(message))

    assert "_+90 more on the run page_" in texts  # 100 metrics, 10 fields
    assert "_+88 more tags_" in texts
    assert "_+30 more people_" in texts
    params = next(t for t in mrkdwn_texts(message) if t.startswith("*Params changed"))
    shown = params.count("\n• ")
    assert shown >= 1
    assert params.endswith(f"_+{200 - shown} more params_")


def test_long_names_are_cut_with_an_ellipsis():
    report = fixture_report(run=RunRef(public_id="r1", name="n" * 3000, url=f"{BASE_URL}/r"))

    summary = slack_message(report)["blocks"][1]["text"]["text"]

    assert f"|{'n' * 119}…>" in summary


def test_cut_never_splits_an_entity():
    assert slack_blocks.fit("a" * 8 + "&&&", 12) == "aaaaaaaa…"
    assert slack_blocks.fit("a" * 8 + "&&&", 14) == "aaaaaaaa&amp;…"


def test_emoji_count_twice_towards_the_limits():
    report = fixture_report(title="🔥" * 200)

    header = slack_message(report)["blocks"][0]["text"]["text"]

    assert units(header) <= 150
    assert header.endswith("…")


def test_mentions_use_slack_ids_when_known_and_escaped_names_otherwise():
    report = mention_report(
        mentions=(Mention("alice_admin", "a@example.com"), Mention("<!here>", "h@example.com"))
    )

    message = slack_message(report, user_ids={"alice_admin": "U0ALICE01"})

    detail = message["blocks"][3]["text"]["text"]
    assert detail.startswith("*Mentioned:* <@U0ALICE01>, @&lt;!here&gt;\n")
    assert message["text"].startswith("<@U0ALICE01> @&lt;!here&gt; · ")
    assert_inert(message, user_ids=("U0ALICE01",))


def test_a_user_id_that_is_not_one_is_not_written_as_a_mention():
    message = slack_message(mention_report(), user_ids={"alice_admin": "!channel"})

    assert "*Mentioned:* @alice_admin, @carol_viewer" in message["blocks"][3]["text"]["text"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://kiroku.example.com/x", ""])
def test_only_http_urls_become_links(url):
    message = slack_message(fixture_report(compare_url=url))

    links = message["blocks"][-1]["elements"][0]["text"]
    assert links == f"<{BASE_URL}/projects/vision/runs/r7f3a9c2e|Open run>"


def test_url_characters_that_would_end_a_link_are_encoded():
    assert slack_blocks.link("https://k.example/a b|c>d&e", "x", 10) == (
        "<https://k.example/a%20b%7Cc%3Ed&amp;e|x>"
    )


def test_model_text_is_escaped_exactly_and_stays_inert():
    model = ModelRef(
        name=HOSTILE,
        version=2,
        alias="prod",
        actor="bob_member",
        reason=HOSTILE,
        decision="approved",
        comment=HOSTILE,
        description=HOSTILE,
    )
    message = slack_message(alias_move_report(title=f"{HOSTILE}@prod → v2", model=model))

    assert_within_limits(message)
    assert_inert(message)
    assert message["blocks"][1]["text"]["text"] == (
        f"*Model:* {HOSTILE_ESCAPED} · *Version:* v2 · *Alias:* @prod (was nothing)\n"
        "*By:* bob_member\n*Decision:* approved\n"
        f"*Reason:*\n{HOSTILE_ESCAPED}\n*Comment:*\n{HOSTILE_ESCAPED}\n"
        f"*Description:*\n{HOSTILE_ESCAPED}"
    )
    assert message["text"].startswith(f"{HOSTILE_ESCAPED}@prod → v2: ")
