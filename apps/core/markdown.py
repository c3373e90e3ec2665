"""Markdown that people write (run notes, comments) turned into HTML a page may show.

Two steps, both needed: markdown-it renders CommonMark (plus tables and
strikethrough) with raw HTML turned off, so ``<script>`` in the text comes out as
text; nh3 then keeps only an allow-list of tags and attributes, and links and images
only with http, https or mailto URLs or relative ones. Whatever markdown-it lets
through by mistake, nh3 still removes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},  # and class="mention" only (allowed_classes)
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    # markdown-it writes a table column's alignment as style="text-align:…"; every
    # other style property is removed.
    "th": {"style"},
    "td": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# Django's username characters; a mention ends at anything else (a trailing "." is
# punctuation, not part of the name).
_MENTION = re.compile(r"@([A-Za-z0-9_@.+-]{1,150})")
_BEFORE_MENTION_NOT = re.compile(r"[A-Za-z0-9_.+\-@]")


def _mention(state: StateInline, silent: bool) -> bool:
    """``@name`` of someone in ``env["mention_urls"]`` becomes a link to that URL and
    is recorded in ``env["mentioned"]``; any other ``@name`` stays plain text, so a
    mention of someone outside the project does nothing and reveals nothing."""
    if state.src[state.pos] != "@" or not isinstance(state.env, dict):
        return False
    urls = state.env.get("mention_urls")
    if not urls or state.linkLevel > 0:  # no link inside a link's text
        return False
    if state.pos > 0 and _BEFORE_MENTION_NOT.match(state.src[state.pos - 1]):
        return False  # an email address, or @ inside a word
    found = _MENTION.match(state.src, state.pos)
    if found is None:
        return False
    name = found.group(1).rstrip(".")
    url = urls.get(name)
    if url is None:
        return False
    if not silent:
        opening = state.push("link_open", "a", 1)
        opening.attrs = {"href": url, "class": "mention"}
        text = state.push("text", "", 0)
        text.content = f"@{name}"
        state.push("link_close", "a", -1)
        state.env["mentioned"].append(name)
    state.pos += 1 + len(name)
    return True


_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_markdown.inline.ruler.before("link", "mention", _mention)
_markdown.inline.add_terminator_char("@")
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="nofollow noopener",
    strip_comments=True,
    filter_style_properties={"text-align"},
    allowed_classes={"a": {"mention"}},
)


def markdown_render(text: str) -> SafeString:
    """``text`` (CommonMark with tables and strikethrough) as sanitised HTML, safe to
    put in a page as is. Raw HTML in ``text`` is shown as text; links and images keep
    only http, https, mailto and relative URLs."""
    if not text:
        return mark_safe("")
    html = _markdown.render(text)
    return mark_safe(_cleaner.clean(html))  # noqa: S308 - sanitised by nh3 just above


@dataclass(frozen=True)
class Rendered:
    html: SafeString
    mentioned: list[str] = field(default_factory=list)  # usernames, in order, each once


def markdown_render_mentions(text: str, *, mention_urls: Mapping[str, str]) -> Rendered:
    """As ``markdown_render``, also linking ``@name`` for each name in
    ``mention_urls`` (username → URL) and saying which were mentioned. Names not in
    ``mention_urls`` stay text."""
    if not text:
        return Rendered(mark_safe(""))
    env: dict[str, Any] = {"mention_urls": dict(mention_urls), "mentioned": []}
    html = _markdown.render(text, env)
    mentioned = list(dict.fromkeys(env["mentioned"]))
    return Rendered(mark_safe(_cleaner.clean(html)), mentioned)  # noqa: S308 - nh3 just above
