"""apps.core.markdown: notes and comments as sanitised HTML."""

from __future__ import annotations

import pytest
from django.utils.safestring import SafeString

from apps.core import markdown
from apps.core.markdown import markdown_render


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("", ""),
        (
            "**bold** _it_ ~~gone~~ `x<y`",
            "<p><strong>bold</strong> <em>it</em> <s>gone</s> <code>x&lt;y</code></p>\n",
        ),
        ("# Title\n\n- a\n- b", "<h1>Title</h1>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n'),
        ("```\n<b>x</b>\n```", "<pre><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>\n"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>\n"),
        (
            "| a | b |\n|--:|---|\n| 1 | 2 |",
            '<table>\n<thead>\n<tr>\n<th style="text-align:right">a</th>\n<th>b</th>\n</tr>\n'
            '</thead>\n<tbody>\n<tr>\n<td style="text-align:right">1</td>\n<td>2</td>\n</tr>\n'
            "</tbody>\n</table>\n",
        ),
        (
            '[web](https://example.com "T") [rel](/projects/vision) [mail](mailto:a@example.com)',
            '<p><a href="https://example.com" title="T" rel="nofollow noopener">web</a> '
            '<a href="/projects/vision" rel="nofollow noopener">rel</a> '
            '<a href="mailto:a@example.com" rel="nofollow noopener">mail</a></p>\n',
        ),
        (
            "![plot](https://example.com/a.png)",
            '<p><img src="https://example.com/a.png" alt="plot"></p>\n',
        ),
    ],
)
def test_markdown_renders_the_allowed_subset(text, html):
    assert str(markdown_render(text)) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
        ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>\n"),
        ("[x](&#106;avascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
        ("[x](vbscript:msgbox(1))", "<p>[x](vbscript:msgbox(1))</p>\n"),
        ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>\n"),
        (
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "<p>[x](data:text/html;base64,PHNjcmlwdD4=)</p>\n",
        ),
        ("![x](data:image/png;base64,iVBORw0KGgo=)", '<p><img alt="x"></p>\n'),
        ("<style>*{display:none}</style>", "<p>&lt;style&gt;*{display:none}&lt;/style&gt;</p>\n"),
        (
            '<a href="/" style="position:fixed">x</a>',
            '<p>&lt;a href="/" style="position:fixed"&gt;x&lt;/a&gt;</p>\n',
        ),
        ("<!-- c --> <iframe src=//evil>", "<p>&lt;!-- c --&gt; &lt;iframe src=//evil&gt;</p>\n"),
    ],
)
def test_markdown_neutralises_xss_payloads(text, html):
    assert str(markdown_render(text)) == html


class RawHtml:
    """Stands in for markdown-it passing HTML through, to test the second layer."""

    def render(self, text: str) -> str:
        return text


@pytest.mark.parametrize(
    ("html", "clean"),
    [
        ("<p>ok<script>alert(1)</script></p>", "<p>ok</p>"),
        ('<img src="x" onerror="alert(1)">', '<img src="x">'),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="nofollow noopener">x</a>'),
        ('<a href="data:text/html,x">x</a>', '<a rel="nofollow noopener">x</a>'),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ('<a href="https://a.example" target="_blank" rel="opener">x</a>',
         '<a href="https://a.example" rel="nofollow noopener">x</a>'),
        ('<table><tr><td style="text-align:left;position:fixed;background:url(x)">1</td></tr>'
         "</table>",
         '<table><tbody><tr><td style="text-align:left">1</td></tr></tbody></table>'),
        ('<p style="color:red" class="badge" id="run-status">x</p>', "<p>x</p>"),
        ("<style>p{}</style><iframe src=x></iframe><object></object><form><input></form>", ""),
        ("<svg><circle onload=alert(1)></circle></svg><math></math>", ""),
        ("<!-- hidden --><b>x</b>", "x"),
    ],
)  # fmt: skip
def test_the_sanitiser_cleans_whatever_html_gets_through(monkeypatch, html, clean):
    monkeypatch.setattr(markdown, "_markdown", RawHtml())
    assert str(markdown_render(html)) == clean


def test_the_result_is_marked_safe_for_templates():
    assert isinstance(markdown_render("*x*"), SafeString)
    assert isinstance(markdown_render(""), SafeString)
