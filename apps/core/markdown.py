"""Markdown that people write (run notes, comments) turned into HTML a page may show.

Two steps, both needed: markdown-it renders CommonMark (plus tables and
strikethrough) with raw HTML turned off, so ``<script>`` in the text comes out as
text; nh3 then keeps only an allow-list of tags and attributes, and links and images
only with http, https or mailto URLs or relative ones. Whatever markdown-it lets
through by mistake, nh3 still removes.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    # markdown-it writes a table column's alignment as style="text-align:…"; every
    # other style property is removed.
    "th": {"style"},
    "td": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto"}

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="nofollow noopener",
    strip_comments=True,
    filter_style_properties={"text-align"},
)


def markdown_render(text: str) -> SafeString:
    """``text`` (CommonMark with tables and strikethrough) as sanitised HTML, safe to
    put in a page as is. Raw HTML in ``text`` is shown as text; links and images keep
    only http, https, mailto and relative URLs."""
    if not text:
        return mark_safe("")
    html = _markdown.render(text)
    return mark_safe(_cleaner.clean(html))  # noqa: S308 - sanitised by nh3 just above
