"""Tokens of the run-search language, and the error that points into its text.

The lexer is pulled one token at a time by the parsers, so the first mistake in a
filter is the one reported, even when later text would not lex either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from apps.core.errors import Invalid

# Entity prefixes, MLflow's spellings included; each maps to its canonical entity.
PREFIXES: dict[str, str] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "datasets": "dataset",
    "dataset": "dataset",
}

KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "asc", "desc"})

_OPERATORS = ("!=", "<>", ">=", "<=", "==", "=", ">", "<")
_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD_CHARS = _WORD_START | frozenset("0123456789")
# A bare key may also hold these, so `metrics.train/loss` needs no quotes.
_KEY_PUNCTUATION = frozenset("_-/.")
_DIGITS = frozenset("0123456789")
_QUOTES = {"'": "string", '"': "string", "`": "backquoted name"}
_EXCERPT_RADIUS = 30


class SearchSyntaxError(Invalid):
    """A filter or order_by the server cannot read; the message names the column.

    ``column`` is 1-based and counts characters from the start of the text (a
    newline counts as one character).
    """

    def __init__(
        self, *, field: str, text: str, position: int, what: str, detail: str = ""
    ) -> None:
        column = position + 1
        headline = f"{field}: {what} at column {column}"
        if detail:
            headline = f"{headline} ({detail})"
        message = f"{headline}\n{_excerpt(text, position)}" if text else headline
        super().__init__(message, field=field)
        self.column = column
        self.headline = headline


def _excerpt(text: str, position: int) -> str:
    start = max(0, position - _EXCERPT_RADIUS)
    end = min(len(text), position + _EXCERPT_RADIUS)
    # Whitespace and control characters become spaces so the caret stays under the
    # character it points at.
    snippet = "".join(ch if ch.isprintable() else " " for ch in text[start:end])
    lead = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return f"  {lead}{snippet}{tail}\n  {' ' * (len(lead) + position - start)}^"


class Kind(enum.Enum):
    IDENT = "identifier"
    KEYWORD = "keyword"
    STRING = "string"
    NUMBER = "number"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    EOF = "end"


@dataclass(frozen=True)
class Token:
    """One token. ``position`` is the 0-based index of its first character.

    For ``IDENT``, ``prefix`` is the canonical entity of a prefixed name (``metric``,
    ``param``, ...) or ``None`` for a bare name, and ``value`` the key or the name.
    For ``KEYWORD``, ``value`` is lower-case; for ``NUMBER``, ``number`` is set and
    ``value`` keeps the source text.
    """

    kind: Kind
    value: str
    position: int
    end: int
    prefix: str | None = None
    number: float | None = None

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of text"
        if self.kind is Kind.KEYWORD:
            return f"keyword {self.value.upper()}"
        if self.kind is Kind.STRING:
            return f"string {_short(self.value)!r}"
        if self.kind is Kind.NUMBER:
            return f"number {self.value}"
        if self.kind is Kind.IDENT and self.prefix is not None:
            return f"'{self.prefix}s.{_short(self.value)}'"
        return f"'{_short(self.value)}'"


def _is_key_char(ch: str) -> bool:
    return ch.isalnum() or ch in _KEY_PUNCTUATION


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


class Lexer:
    """Splits ``text`` into tokens on demand; ``field`` names it in errors."""

    def __init__(self, text: str, *, field: str) -> None:
        """Raises SearchSyntaxError if ``text`` holds a NUL, which PostgreSQL refuses
        in any text value (it would otherwise surface as a server error)."""
        self.text = text
        self.field = field
        self.pos = 0
        nul = text.find("\x00")
        if nul >= 0:
            raise self.error(nul, "unexpected NUL character", "remove it")

    def error(self, position: int, what: str, detail: str = "") -> SearchSyntaxError:
        """The error to raise for ``what`` found at ``position`` (0-based)."""
        return SearchSyntaxError(
            field=self.field, text=self.text, position=position, what=what, detail=detail
        )

    def next(self) -> Token:
        """The next token; ``Kind.EOF`` at the end. Raises SearchSyntaxError."""
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1
        start = self.pos
        if start >= len(text):
            return Token(Kind.EOF, "", start, start)
        ch = text[start]
        if ch in _WORD_START:
            return self._word(start)
        if ch in _DIGITS or (ch in "-." and self._number_follows(start)):
            return self._number(start)
        if ch in "'\"":
            value, end = self._quoted(start)
            return Token(Kind.STRING, value, start, end)
        if ch in "(),":
            self.pos = start + 1
            kind = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}[ch]
            return Token(kind, ch, start, start + 1)
        for op in _OPERATORS:
            if text.startswith(op, start):
                self.pos = start + len(op)
                canonical = {"<>": "!=", "==": "="}.get(op, op)
                return Token(Kind.OP, canonical, start, self.pos)
        if ch == "`":
            raise self.error(
                start,
                "unexpected backquoted name",
                "a backquoted key follows a prefix, as in metrics.`my key`",
            )
        raise self.error(start, f"unexpected character {ch!r}")

    def _number_follows(self, start: int) -> bool:
        rest = self.text[start + 1 : start + 3]
        if self.text[start] == "-":
            return rest[:1] in _DIGITS or (rest[:1] == "." and rest[1:2] in _DIGITS)
        return rest[:1] in _DIGITS

    def _number(self, start: int) -> Token:
        text, i = self.text, start
        if text[i] == "-":
            i += 1
        while i < len(text) and text[i] in _DIGITS:
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            while i < len(text) and text[i] in _DIGITS:
                i += 1
        if i < len(text) and text[i] in "eE":
            j = i + 1
            if j < len(text) and text[j] in "+-":
                j += 1
            if j < len(text) and text[j] in _DIGITS:
                i = j
                while i < len(text) and text[i] in _DIGITS:
                    i += 1
        if i < len(text) and (text[i] in _WORD_CHARS or text[i] == "."):
            raise self.error(i, f"unexpected {text[i]!r} in a number")
        self.pos = i
        source = text[start:i]
        return Token(Kind.NUMBER, source, start, i, number=float(source))

    def _word(self, start: int) -> Token:
        text, i = self.text, start
        while i < len(text) and text[i] in _WORD_CHARS:
            i += 1
        head = text[start:i]
        entity = PREFIXES.get(head.lower())
        if entity is not None and i < len(text) and text[i] == ".":
            return self._prefixed(start, i + 1, entity, head)
        while i < len(text) and _is_key_char(text[i]):
            i += 1
        self.pos = i
        word = text[start:i]
        if word.lower() in KEYWORDS:
            return Token(Kind.KEYWORD, word.lower(), start, i)
        return Token(Kind.IDENT, word, start, i)

    def _prefixed(self, start: int, key_start: int, entity: str, head: str) -> Token:
        text = self.text
        if key_start < len(text) and text[key_start] in _QUOTES:
            key, end = self._quoted(key_start)
        else:
            end = key_start
            while end < len(text) and _is_key_char(text[end]):
                end += 1
            key = text[key_start:end]
            self.pos = end
        if not key:
            raise self.error(
                key_start,
                f"missing key after '{head}.'",
                f"write {head}.name; quote keys with other characters: {head}.`my key`",
            )
        return Token(Kind.IDENT, key, start, end, prefix=entity)

    def _quoted(self, start: int) -> tuple[str, int]:
        """The text between the quote at ``start`` and its partner; a doubled quote
        character stands for itself (SQL's rule), so ``'it''s'`` reads ``it's``."""
        text, quote = self.text, self.text[start]
        parts: list[str] = []
        i = start + 1
        while True:
            close = text.find(quote, i)
            if close < 0:
                raise self.error(start, f"unterminated {_QUOTES[quote]}", f"close it with {quote}")
            parts.append(text[i:close])
            if text.startswith(quote * 2, close):
                parts.append(quote)
                i = close + 2
                continue
            self.pos = close + 1
            return "".join(parts), close + 1
