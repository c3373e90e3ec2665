"""What the run page tests share: the page's URL, the XSS payload, and the chart
groups a page lists."""

from __future__ import annotations

from html.parser import HTMLParser

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def page(run_id: str, slug: str = "vision") -> str:
    return f"/projects/{slug}/runs/{run_id}"


class ChartSkeleton(HTMLParser):
    """The chart groups of a page, in order: ``[(prefix, [key, ...]), ...]``."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "details" and "chart-group" in classes:
            self.groups.append((attributes["data-prefix"], []))
        elif tag == "div" and "chart" in classes:
            self.groups[-1][1].append(attributes["data-key"])


def chart_groups(html: str) -> list[tuple[str, list[str]]]:
    parser = ChartSkeleton()
    parser.feed(html)
    return parser.groups
