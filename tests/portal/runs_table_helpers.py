"""Helpers for the runs-table tests: runs written straight to the database (fast, and
exactly the keys a test names), and the table's headers and cells read from the HTML."""

from __future__ import annotations

import re
from html import unescape

from django.utils import timezone

from apps.runs.models import MetricSummary, Param, Run, Tag
from apps.runs.validation import number_or_none


def seed(project, name: str, *, metrics=None, params=None, tags=None) -> Run:
    """A finished run of ``project`` holding exactly these metric summaries (last
    values), params and tags; runs seeded later have higher ids (newer)."""
    run = Run.objects.create(project=project, name=name, status="FINISHED")
    now = timezone.now()
    MetricSummary.objects.bulk_create(
        MetricSummary(
            run=run,
            key=key,
            last=value,
            last_step=0,
            min=value,
            max=value,
            count=1,
            last_timestamp=now,
        )
        for key, value in (metrics or {}).items()
    )
    Param.objects.bulk_create(
        Param(run=run, key=key, value=value, value_num=number_or_none(value))
        for key, value in (params or {}).items()
    )
    Tag.objects.bulk_create(
        Tag(run=run, key=key, value=value) for key, value in (tags or {}).items()
    )
    return run


def headers(html: str) -> list[str]:
    """The params/metrics/tags column headers, left to right (after Duration)."""
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    labels = re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]*)</a></th>', head)
    return [unescape(label) for label in labels[5:]]  # Name, Status, Author, Created, Duration


def more(html: str) -> str | None:
    """The "+N more" button's text, or None when the table has none."""
    found = re.search(
        r'<button type="button" class="link" id="more-columns"[^>]*>([^<]*)</button>', html
    )
    return found.group(1) if found else None


def rows(html: str) -> dict[str, list[str]]:
    """Run name → the texts of its params/metrics/tags cells (not the "+N more" one)."""
    width = len(headers(html))
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    table = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        name = re.search(r'<a href="/projects/[^/]+/runs/[0-9a-f]{32}">([^<]*)</a>', row)
        if name is None:
            continue
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[6 : 6 + width]
        table[unescape(name.group(1))] = [unescape(cell.strip()) for cell in cells]
    return table
