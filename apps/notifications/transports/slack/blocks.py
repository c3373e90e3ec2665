"""The Slack message for a ``Report``: Block Kit blocks and a plain-text fallback.

Every piece of user text (run, project, metric and param names, tags, comments,
usernames) is mrkdwn-escaped, so ``<!channel>`` or ``<https://evil|ok>`` in a run name
is shown as typed and never acted on; the only live ``<…>`` sequences are the links
built here from Kiroku's own URLs and ``<@U…>`` mentions of Slack user ids looked up
by the notifier. Each text is cut to a budget (in UTF-16 code units, the stricter
count) that keeps the message within Slack's limits, and a cut list says how many
items it left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from apps.notifications import catalog
from apps.notifications.report_content import (
    MetricLine,
    Report,
    format_delta,
    format_duration,
    format_number,
    format_verdict,
)

# Slack's documented limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 4000

ELLIPSIS = "…"

# How many list items a message shows before "+N more".
MAX_TAGS = 12
MAX_PARAM_CHANGES = 15
MAX_MENTIONS = 20
MAX_FALLBACK_METRICS = 3

ICONS = {
    catalog.RUN_FINISHED: "✅",
    catalog.RUN_FAILED: "❌",
    catalog.RUN_KILLED: "⏹️",
    catalog.RUN_CRASHED: "💥",
    catalog.METRIC_THRESHOLD: "⚠️",
    catalog.RUN_NEW_BEST: "🏆",
    catalog.COMMENT_MENTION: "💬",
    catalog.CI_REPORTED: "🧪",
    catalog.MODEL_VERSION_CREATED: "📦",
    catalog.MODEL_ALIAS_MOVED: "🔀",
    catalog.MODEL_PROMOTION_REQUESTED: "🙋",
    catalog.MODEL_PROMOTION_DECIDED: "⚖️",
}

DETAIL_LABELS = {catalog.COMMENT_MENTION: "Comment", catalog.CI_REPORTED: "CI report"}

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
# Characters a URL keeps as they are; everything else (spaces, <, >, |, quotes,
# non-ASCII) is percent-encoded so it cannot end the <url|label> sequence.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"


def units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """mrkdwn-escape user text: ``&``, ``<`` and ``>`` become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int, *, one_line: bool = True) -> str:
    """``text`` mrkdwn-escaped and at most ``limit`` code units long, cut with "…"
    (never inside an entity). ``one_line`` folds line breaks and runs of whitespace
    into single spaces, so a name cannot fake further lines of the message."""
    text = " ".join(text.split()) if one_line else text.replace("\r\n", "\n").strip()
    escaped = escape(text)
    if units(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for char in text:
        piece = escape(char)
        size = units(piece)
        if used + size > limit - 1:
            break
        out.append(piece)
        used += size
    return "".join(out).rstrip() + ELLIPSIS


def plain(text: str, limit: int) -> str:
    """Text for a ``plain_text`` object (Slack does not parse it): whitespace folded,
    cut to ``limit`` code units."""
    text = " ".join(text.split())
    if units(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        if used + units(char) > limit - 1:
            break
        out.append(char)
        used += units(char)
    return "".join(out).rstrip() + ELLIPSIS


def _is_http(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def link(url: str, label: str, limit: int) -> str:
    """``<url|label>`` for a URL Kiroku built, the label escaped (``|`` replaced so it
    cannot split the sequence); the bare label when there is no http(s) URL."""
    text = fit(label.replace("|", "¦"), limit) or "link"
    if not _is_http(url):
        return text
    return f"<{quote(url, safe=_URL_SAFE).replace('&', '&amp;')}|{text}>"


def code(text: str, limit: int) -> str:
    """Inline code of user text (backticks replaced so the span cannot be closed)."""
    return "`" + fit(text.replace("`", "'"), limit) + "`"


def mention(username: str, user_ids: Mapping[str, str]) -> str:
    user_id = user_ids.get(username, "")
    if _SLACK_USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return "@" + fit(username, 60)


def more(count: int, noun: str) -> str:
    return f"_+{count} more {noun}_"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _header(report: Report) -> dict[str, Any]:
    title = report.title or catalog.EVENT_TITLES.get(report.event, "Kiroku")
    icon = ICONS.get(report.event, "")
    text = plain(f"{icon} {title}".strip(), MAX_HEADER_TEXT)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _summary(report: Report) -> dict[str, Any]:
    project = link(report.project_url, report.project_name or report.project_slug, 80)
    if report.run is not None:
        run = link(report.run.url, report.run.name or report.run.public_id, 120)
        lines = [f"*{run}* · {project}"]
    else:
        lines = [f"*Project:* {project}"]
    if report.status:
        status = f"*Status:* {fit(report.status, 30)}"
        duration = format_duration(report.duration_seconds)
        lines.append(f"{status} after {duration}" if duration else status)
    facts = []
    if report.author:
        facts.append(f"*Author:* {fit(report.author, 80)}")
    if report.branch:
        facts.append(f"*Branch:* {code(report.branch, 80)}")
    if report.commit:
        facts.append(f"*Commit:* {code(report.commit, 40)}")
    if facts:
        lines.append(" · ".join(facts))
    return _section("\n".join(lines))


def _model(report: Report) -> dict[str, Any] | None:
    """The model, version, alias and who, then the texts people wrote: the reason,
    the decision's comment, the version's description."""
    model = report.model
    if model is None:
        return None
    facts = [f"*Model:* {fit(model.name, 250)}", f"*Version:* v{model.version}"]
    if model.alias:
        was = f"v{model.replaces}" if model.replaces is not None else "nothing"
        facts.append(f"*Alias:* @{fit(model.alias, 64)} (was {was})")
    lines = [" · ".join(facts)]
    if model.actor:
        lines.append(f"*By:* {fit(model.actor, 150)}")
    if model.decision:
        lines.append(f"*Decision:* {fit(model.decision, 20)}")
    texts = [
        ("Reason", model.reason),
        ("Comment", model.comment),
        ("Description", model.description),
    ]
    for label, text in texts:
        if text:
            lines.append(f"*{label}:*\n{fit(text, 700, one_line=False)}")
    return _section("\n".join(lines))


def _tags(report: Report) -> dict[str, Any] | None:
    if not report.tags:
        return None
    shown = [code(f"{key}={value}", 80) for key, value in report.tags[:MAX_TAGS]]
    text = "🏷️ " + "  ".join(shown)
    if len(report.tags) > MAX_TAGS:
        text += "  " + more(len(report.tags) - MAX_TAGS, "tags")
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _detail(report: Report, user_ids: Mapping[str, str]) -> dict[str, Any] | None:
    label = DETAIL_LABELS.get(report.event, "Details")
    head = []
    if report.mentions:
        names = [mention(m.username, user_ids) for m in report.mentions[:MAX_MENTIONS]]
        line = "*Mentioned:* " + ", ".join(names)
        if len(report.mentions) > MAX_MENTIONS:
            line += " " + more(len(report.mentions) - MAX_MENTIONS, "people")
        head.append(line)
    tail = [link(report.detail_url, f"View {label.lower()}", 40)] if report.detail_url else []
    body = []
    if report.detail:
        # The excerpt gets what the other lines leave of the section's limit.
        room = MAX_SECTION_TEXT - 50 - sum(units(line) + 1 for line in head + tail)
        body.append(f"*{label}:*\n{fit(report.detail, min(1500, room), one_line=False)}")
    lines = head + body + tail
    return _section("\n".join(lines)) if lines else None


def metric_text(line: MetricLine) -> str:
    """One metric: name, value (vs the baseline's), difference, percentage, marker and
    verdict, e.g. "*val/acc*\\n0.7712 vs 0.7598\\n+0.0114 (+1.5%) ▲ better"."""
    text = f"*{fit(line.key, 150)}*\n{format_number(line.value)}"
    if line.baseline is not None:
        text += f" vs {format_number(line.baseline)}"
    delta = format_delta(line)
    if delta:
        verdict = format_verdict(line)
        text += f"\n{delta} {verdict}".rstrip()
    return text


def _metrics(report: Report) -> dict[str, Any] | None:
    if not report.metrics:
        return None
    title = "*Metrics*" + (" vs baseline" if report.baseline is not None else "")
    hidden = len(report.metrics) - MAX_FIELDS
    if hidden > 0:
        title += " · " + more(hidden, "on the run page")
    fields = [_mrkdwn(metric_text(line)) for line in report.metrics[:MAX_FIELDS]]
    return {"type": "section", "text": _mrkdwn(title), "fields": fields}


def _baseline(report: Report) -> dict[str, Any] | None:
    label = f" ({fit(report.baseline_label, 120)})" if report.baseline_label else ""
    if report.baseline is not None:
        name = report.baseline.name or report.baseline.public_id
        return _section(f"*Baseline:* {link(report.baseline.url, name, 120)}{label}")
    if report.metrics or report.baseline_label:
        return _section(f"*Baseline:* none found{label}")
    return None


def _param_value(value: str | None) -> str:
    # None: the baseline lacks the param; "": the run lacks it (reports.py).
    return fit(value, 100) if value else "_not set_"


def _param_changes(report: Report) -> dict[str, Any] | None:
    changes = report.param_changes
    if not changes:
        return None
    lines = [f"*Params changed vs baseline* ({len(changes)})"]
    budget = MAX_SECTION_TEXT - 100  # room for the "+N more" line
    used = units(lines[0])
    for change in changes[:MAX_PARAM_CHANGES]:
        before = _param_value(change.baseline)
        line = f"• {code(change.key, 80)}: {before} → {_param_value(change.value)}"
        if used + 1 + units(line) > budget:
            break
        lines.append(line)
        used += 1 + units(line)
    shown = len(lines) - 1
    if shown < len(changes):
        lines.append(more(len(changes) - shown, "params"))
    return _section("\n".join(lines))


def _links(report: Report) -> dict[str, Any] | None:
    targets = [(report.run.url if report.run else "", "Open run")]
    targets.append((report.compare_url, "Compare with baseline"))
    links = [link(url, label, 40) for url, label in targets if _is_http(url)]
    if not links:
        return None
    return {"type": "context", "elements": [_mrkdwn(" · ".join(links))]}


def fallback_text(report: Report, user_ids: Mapping[str, str] | None = None) -> str:
    """The message's ``text``: what notifications and screen readers show."""
    user_ids = user_ids or {}
    title = fit(report.title or catalog.EVENT_TITLES.get(report.event, "Kiroku"), 150)
    parts = []
    if report.mentions:
        parts.append(" ".join(mention(m.username, user_ids) for m in report.mentions[:10]))
    head = title
    if report.run is not None:
        head += f": {fit(report.run.name or report.run.public_id, 200)}"
    head += f" ({fit(report.project_name or report.project_slug, 80)})"
    parts.append(head)
    if report.status:
        duration = format_duration(report.duration_seconds)
        parts.append(fit(report.status, 30) + (f" after {duration}" if duration else ""))
    for line in report.metrics[:MAX_FALLBACK_METRICS]:
        delta = format_delta(line)
        parts.append(
            f"{fit(line.key, 150)} {format_number(line.value)}" + (f" ({delta})" if delta else "")
        )
    if report.detail:
        parts.append(fit(report.detail, 300))
    return " · ".join(parts)[:MAX_FALLBACK_TEXT]


def _present(blocks: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [block for block in blocks if block is not None]


def slack_message(report: Report, *, user_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}`` for ``chat.postMessage``.

    ``user_ids`` maps Kiroku usernames to Slack user ids (found by email): those are
    mentioned as ``<@U…>``, the others by their escaped ``@username``.
    """
    user_ids = user_ids or {}
    blocks = _present(
        [
            _header(report),
            _model(report),
            _summary(report),
            _tags(report),
            _detail(report, user_ids),
            _metrics(report),
            _baseline(report),
            _param_changes(report),
            _links(report),
        ]
    )
    return {"text": fallback_text(report, user_ids), "blocks": blocks[:MAX_BLOCKS]}
