"""A comparison (``GET /runs/{id}/compare``) rendered for people: GitHub markdown for
the job summary and the pull request comment, aligned plain text for the job log.

Everything the user or the server names (metric keys, run names, test names, labels,
gate reasons, notes) is escaped, so a hostile name can neither break the table, open a
link, mention someone, nor (in the log) start a workflow command. Links are written
only for http(s) URLs.

``junit`` is the JUnit summary: ``{"tests", "failures", "errors", "skipped"}`` counts,
optional ``"passed"`` (else derived), ``"time"`` (seconds), ``"failed"`` (the
failing and erroring tests' names, as strings or ``{"name": ...}``) and
``"failed_total"`` (how many there are, when ``failed`` holds only the first ones):
``kiroku.ci.junit.JUnitSummary.as_json()``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from kiroku.keys import number_decode

MAX_FAILING_TESTS = 20
MINUS = "\u2212"  # a real minus sign, as the server's Slack and Notion messages write it

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_MD_LEADING_MARK = re.compile(r"^([-+=])")
_MD_LEADING_NUMBER = re.compile(r"^(\d+)([.)])")
_WEB_URL = re.compile(r"^https?://[^\s<>()\[\]`'\"\\]+$", re.IGNORECASE)


# -- text --------------------------------------------------------------------------


def md_text(value: Any) -> str:
    """``value`` as inline markdown that shows exactly its text: one line, HTML
    entities for ``& < >``, backslash escapes for markdown's punctuation (``|`` so a
    table cell stays one cell), and ``@`` that mentions nobody."""
    text = _CONTROL.sub(" ", str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("@", "@&#8203;")  # a zero-width space after @: no mention
    # At the start of a list item, "-", "+" or "1." would open a nested list.
    text = _MD_LEADING_MARK.sub(r"\\\1", text)
    return _MD_LEADING_NUMBER.sub(r"\1\\\2", text)


def md_link(label: str, url: Any) -> str:
    """``[label](url)`` for an http(s) URL; only the label (already markdown) otherwise."""
    if isinstance(url, str) and _WEB_URL.fullmatch(url):
        return f"[{label}]({url})"
    return label


def plain_text(value: Any) -> str:
    """``value`` on one line for the job log, without control characters; a leading
    ``::`` is broken up so the runner does not read the line as a workflow command."""
    text = _CONTROL.sub(" ", str(value))
    if text.lstrip().startswith("::"):
        text = text.replace("::", ":\u200b:", 1)
    return text


def text_cut(text: str, limit: int, *, size: Callable[[str], int] = len) -> str:
    """``text`` when ``size(text) <= limit``; else its first whole lines and a note
    saying how many lines were left out, together at most ``limit`` (by ``size``).
    The note follows a blank line, so it never becomes a table row."""
    if size(text) <= limit:
        return text
    lines = text.splitlines(keepends=True)
    budget = limit - size(_cut_note(len(lines)))
    kept: list[str] = []
    used = 0
    for line in lines:
        line_size = size(line)
        if used + line_size > budget:
            break
        kept.append(line)
        used += line_size
    if budget < 0:
        return ""
    return "".join(kept) + _cut_note(len(lines) - len(kept))


def _cut_note(count: int) -> str:
    return f"\n… table cut: {count} more lines; see the run in Kiroku\n"


# -- numbers -----------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A number from the comparison (JSON number or "NaN"/"Infinity"/"-Infinity");
    None for null or anything else."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return number_decode(value)
    except (KeyError, TypeError, ValueError):
        return None


def format_number(value: float | None) -> str:
    """Up to 6 significant digits (4-digit exponent from 1e6 or under 1e-4); NaN and
    infinities spelled out; "—" for missing. The server's format_number, to the digit."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
        return f"{value:.4e}"
    return f"{value:.6g}"


def format_change(line: dict[str, Any]) -> str:
    """ "+0.012 (+1.3%) ▲ better": the change, the percentage, its direction, and
    whether it is better or worse; "" without a baseline value."""
    delta = number(line.get("delta"))
    if delta is None:
        return ""
    if not math.isfinite(delta):
        return format_number(delta)
    if delta == 0:
        return "±0 (0%) ="
    sign = "+" if delta > 0 else MINUS
    text = f"{sign}{format_number(abs(delta))}"
    percent = number(line.get("percent"))
    if percent is not None and math.isfinite(percent):
        text += f" ({sign}{abs(percent):.1f}%)"
    text += " ▲" if delta > 0 else " ▼"
    better = line.get("better")
    if better is True:
        text += " better"
    elif better is False:
        text += " worse"
    return text


# -- the comparison ----------------------------------------------------------------


def _verdict(comparison: dict[str, Any], title: str) -> tuple[str, str]:
    """(markdown heading, plain heading)."""
    if comparison.get("regressed"):
        return f"### ❌ Kiroku: regression in {md_text(title)}", f"Kiroku: regression in {title}"
    if not comparison.get("baseline"):
        return (
            f"### ⚪ Kiroku: {md_text(title)} recorded, no baseline",
            f"Kiroku: {title} recorded, no baseline",
        )
    return f"### ✅ Kiroku: {md_text(title)} passed", f"Kiroku: {title} passed"


def _gates_by_metric(comparison: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for gate in _list(comparison.get("gates")):
        by_metric.setdefault(str(gate.get("metric", "")), []).append(gate)
    return by_metric


def _failed_gates(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in _list(comparison.get("gates")) if g.get("violated")]


def _gate_cell(gates: list[dict[str, Any]], *, markdown: bool) -> str:
    failed = [str(g.get("expression", "")) for g in gates if g.get("violated")]
    if failed:
        shown = ", ".join(md_text(e) if markdown else plain_text(e) for e in failed)
        return f"❌ {shown}" if markdown else f"FAIL {shown}"
    if gates:
        return "✅" if markdown else "pass"
    return ""


def _junit_line(junit: dict[str, Any]) -> str:
    tests, failures = _count(junit.get("tests")), _count(junit.get("failures"))
    errors, skipped = _count(junit.get("errors")), _count(junit.get("skipped"))
    passed = junit.get("passed")
    passed = _count(passed) if passed is not None else max(0, tests - failures - errors - skipped)
    line = f"Tests: {passed} passed, {failures} failed, {errors} errors, {skipped} skipped"
    seconds = number(junit.get("time"))
    if seconds is not None and math.isfinite(seconds):
        line += f" in {seconds:.1f} s"
    return line


def _failing_tests(junit: dict[str, Any]) -> tuple[list[str], int]:
    """(at most MAX_FAILING_TESTS names, how many more failed). ``failed_total``
    counts the names the summary itself left out."""
    names = []
    for item in _list(junit.get("failed"), kind=(str, dict)):
        name = item.get("name") if isinstance(item, dict) else item
        if name:
            names.append(str(name))
    total = max(_count(junit.get("failed_total")), len(names))
    shown = names[:MAX_FAILING_TESTS]
    return shown, total - len(shown)


def summary_markdown(
    comparison: dict[str, Any],
    *,
    junit: dict[str, Any] | None,
    title: str,
    notes: Sequence[str] = (),
    model: str = "",
) -> str:
    """The comparison as GitHub markdown: verdict heading, links, ``model`` (plain
    text, escaped: what became of ``--register-model``), the metric table, the failed
    gates, the JUnit result and failing tests, then ``notes`` (plain text, escaped).
    ``title`` names what was evaluated (the run name when empty). Ends with a newline."""
    run = _dict(comparison.get("run"))
    baseline = _dict(comparison.get("baseline"))
    heading, _ = _verdict(comparison, title or str(run.get("name") or "run"))
    out = [heading, ""]

    links = [f"Run {md_link(md_text(run.get('name') or 'run'), run.get('url'))}"]
    if baseline:
        links.append(md_link("Compare", comparison.get("compare_url")))
        label = md_text(comparison.get("baseline_label") or "baseline")
        name = md_link(md_text(baseline.get("name") or "run"), baseline.get("url"))
        links.append(f"Baseline: {label}, {name}")
    else:
        links.append(f"No baseline ({md_text(comparison.get('baseline_spec') or 'none')})")
    out += [" · ".join(links), ""]
    if model:
        out += [f"**Model registry:** {md_text(model)}", ""]

    metrics = _list(comparison.get("metrics"))
    if metrics:
        gates = _gates_by_metric(comparison)
        out += ["| Metric | Baseline | This run | Change | Gate |", "|:--|--:|--:|:--|:--|"]
        for line in metrics:
            key = str(line.get("key", ""))
            cells = [
                md_text(key),
                format_number(number(line.get("baseline"))),
                format_number(number(line.get("value"))),
                format_change(line),
                _gate_cell(gates.get(key, []), markdown=True),
            ]
            out.append("|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|")
        out.append("")

    failed = _failed_gates(comparison)
    if failed:
        out += ["**Failed gates**", ""]
        for gate in failed:
            expression, reason = md_text(gate.get("expression", "")), gate.get("reason")
            out.append(f"- ❌ {expression}" + (f": {md_text(reason)}" if reason else ""))
        out.append("")

    if junit is not None:
        out += [_junit_line(junit), ""]
        names, more = _failing_tests(junit)
        if names:
            out += ["**Failing tests**", ""]
            out += [f"- {md_text(name)}" for name in names]
            if more:
                out.append(f"- … and {more} more")
            out.append("")

    if notes:
        out += ["**Notes**", ""] + [f"- {md_text(note)}" for note in notes] + [""]
    return "\n".join(out)


def console_text(comparison: dict[str, Any], *, junit: dict[str, Any] | None) -> str:
    """The same facts as ``summary_markdown`` for the job log: aligned columns, no
    markdown, user text on one line. Ends with a newline."""
    run = _dict(comparison.get("run"))
    baseline = _dict(comparison.get("baseline"))
    _, heading = _verdict(comparison, plain_text(run.get("name") or "run"))
    out = [heading]
    facts = [("Run:", plain_text(run.get("url") or ""))]
    if baseline:
        facts.append(("Compare:", plain_text(comparison.get("compare_url") or "")))
        label = plain_text(comparison.get("baseline_label") or "baseline")
        name = plain_text(baseline.get("name") or "run")
        facts.append(("Baseline:", f"{label}, {name} ({plain_text(baseline.get('url') or '')})"))
    else:
        facts.append(("Baseline:", f"none ({plain_text(comparison.get('baseline_spec') or '')})"))
    out += _columns([list(f) for f in facts])

    metrics = _list(comparison.get("metrics"))
    if metrics:
        gates = _gates_by_metric(comparison)
        rows = [["Metric", "Baseline", "This run", "Change", "Gate"]]
        for line in metrics:
            key = str(line.get("key", ""))
            rows.append(
                [
                    plain_text(key),
                    format_number(number(line.get("baseline"))),
                    format_number(number(line.get("value"))),
                    format_change(line),
                    _gate_cell(gates.get(key, []), markdown=False),
                ]
            )
        out += ["", *_columns(rows)]

    failed = _failed_gates(comparison)
    if failed:
        out += ["", "Failed gates:"]
        for gate in failed:
            reason = gate.get("reason")
            text = plain_text(gate.get("expression", ""))
            out.append(f"  - {text}" + (f": {plain_text(reason)}" if reason else ""))

    if junit is not None:
        out += ["", _junit_line(junit)]
        names, more = _failing_tests(junit)
        if names:
            out.append("Failing tests:")
            out += [f"  - {plain_text(name)}" for name in names]
            if more:
                out.append(f"  - … and {more} more")
    return "\n".join(out) + "\n"


# -- helpers -----------------------------------------------------------------------


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any, *, kind: type | tuple[type, ...] = dict) -> list[Any]:
    return [item for item in value if isinstance(item, kind)] if isinstance(value, list) else []


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
