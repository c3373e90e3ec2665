"""The filter grammar: a hand-written recursive-descent parser over ``lexer.Lexer``.

::

    filter      := [ or_expr ] END
    or_expr     := and_expr { OR and_expr }
    and_expr    := unary { AND unary }
    unary       := NOT unary | "(" or_expr ")" | comparison
    comparison  := identifier compare_op literal
                 | identifier [ NOT ] IN "(" literal { "," literal } ")"
                 | identifier [ NOT ] ( LIKE | ILIKE ) string
    compare_op  := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    literal     := string | number

The parser also checks meaning (known identifiers, an operator the field allows, a
literal of the right type), so every error a filter can cause is reported here with
its column, and the compiler never sees an invalid tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.core.errors import Invalid
from apps.runs.search.fields import Field, ValueType, coerce_literal, resolve_identifier
from apps.runs.search.lexer import Kind, Lexer, Token

MAX_FILTER_LENGTH = 10_000
MAX_COMPARISONS = 100
MAX_NESTING = 50  # parentheses and NOTs inside one another
MAX_VALUES = 1_000  # literals in all IN lists together

ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
LIKE_OPS = frozenset({"like", "ilike", "not like", "not ilike"})
LIST_OPS = frozenset({"in", "not in"})

# Operators each value type accepts; everything else is a 400 naming these.
_ALLOWED_OPS: dict[ValueType, frozenset[str]] = {
    ValueType.NUMBER: frozenset({"=", "!="} | ORDERING_OPS | LIST_OPS),
    ValueType.DURATION: frozenset({"=", "!="} | ORDERING_OPS | LIST_OPS),
    ValueType.TIME: frozenset({"=", "!="} | ORDERING_OPS | LIST_OPS),
    ValueType.PARAM: frozenset({"=", "!="} | ORDERING_OPS | LIST_OPS | LIKE_OPS),
    ValueType.TEXT: frozenset({"=", "!="} | ORDERING_OPS | LIST_OPS | LIKE_OPS),
    ValueType.STATUS: frozenset({"=", "!="} | ORDERING_OPS | LIST_OPS | LIKE_OPS),
}

_EXPECT_OPERATOR = "expected =, !=, <, <=, >, >=, IN, NOT IN, LIKE or ILIKE"
_EXPECT_COMPARISON = (
    "expected a comparison such as metrics.acc > 0.9, NOT, or '('; the left side must be "
    "an identifier"
)


@dataclass(frozen=True)
class Comparison:
    """``field op operand(s)``. ``operands`` hold one value, or the list of IN / NOT IN;
    their type follows ``fields.coerce_literal``. ``column`` is 1-based."""

    field: Field
    op: str
    operands: tuple[object, ...]
    column: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Comparison | And | Or | Not


def parse_filter(text: str) -> Node | None:
    """The tree for ``text``, or ``None`` when it is empty or blank (match every run).

    Raises SearchSyntaxError (an ``Invalid`` with ``field="filter"``) whose message
    names the 1-based column of the first problem, and ``Invalid`` when a limit
    (length, comparisons, nesting, values) is passed.
    """
    if not isinstance(text, str):
        raise Invalid("filter must be a string", field="filter")
    if len(text) > MAX_FILTER_LENGTH:
        raise Invalid(
            f"filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}",
            field="filter",
        )
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexer = Lexer(text, field="filter")
        self.tok = self.lexer.next()
        self.comparisons = 0
        self.values = 0
        self.depth = 0

    def advance(self) -> Token:
        tok = self.tok
        self.tok = self.lexer.next()
        return tok

    def at_keyword(self, *words: str) -> bool:
        return self.tok.kind is Kind.KEYWORD and self.tok.value in words

    def fail(self, expected: str, token: Token | None = None) -> Invalid:
        token = token or self.tok
        return self.lexer.error(token.position, f"unexpected {token.describe()}", expected)

    def expect(self, kind: Kind, expected: str) -> Token:
        if self.tok.kind is not kind:
            raise self.fail(expected)
        return self.advance()

    def parse(self) -> Node | None:
        # Read through a local: narrowing self.tok.kind here would outlive or_expr(),
        # which moves self.tok on.
        first = self.tok
        if first.kind is Kind.EOF:
            return None
        node = self.or_expr()
        if self.tok.kind is not Kind.EOF:
            raise self.fail("expected AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.at_keyword("or"):
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while self.at_keyword("and"):
            self.advance()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        if self.at_keyword("not") or self.tok.kind is Kind.LPAREN:
            opener = self.advance()
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.lexer.error(
                    opener.position,
                    "too deeply nested",
                    f"the limit is {MAX_NESTING} levels of parentheses and NOT",
                )
            if opener.kind is Kind.LPAREN:
                node = self.or_expr()
                self.expect(
                    Kind.RPAREN,
                    f"expected ')' to close the '(' at column {opener.position + 1}, or AND / OR",
                )
            else:
                node = Not(self.unary())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        ident = self.tok
        if ident.kind is not Kind.IDENT:
            raise self.fail(_EXPECT_COMPARISON)
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.lexer.error(
                ident.position, "too many comparisons", f"the limit is {MAX_COMPARISONS}"
            )
        field = resolve_identifier(ident, self.lexer)
        self.advance()
        op_token = self.tok
        op = self.operator()
        if op not in _ALLOWED_OPS[field.type]:
            allowed = ", ".join(sorted(o.upper() for o in _ALLOWED_OPS[field.type]))
            raise self.lexer.error(
                op_token.position,
                f"{op.upper()} cannot be used with {field.label}",
                f"it allows {allowed}",
            )
        if op in LIST_OPS:
            operands = self.literal_list(field)
        else:
            literal = self.tok
            if literal.kind not in (Kind.STRING, Kind.NUMBER):
                raise self.fail("expected a quoted string or a number")
            if op in LIKE_OPS and literal.kind is not Kind.STRING:
                raise self.fail(f"{op.upper()} takes a quoted pattern such as '%resnet%'")
            self.advance()
            operands = (self.operand(field, literal, op),)
        return Comparison(field, op, operands, ident.position + 1)

    def operator(self) -> str:
        tok = self.tok
        if tok.kind is Kind.OP:
            self.advance()
            return tok.value
        negated = False
        if self.at_keyword("not"):
            self.advance()
            negated = True
            if not self.at_keyword("in", "like", "ilike"):
                raise self.fail("expected IN, LIKE or ILIKE after NOT")
        if self.at_keyword("in", "like", "ilike"):
            word = self.advance().value
            return f"not {word}" if negated else word
        raise self.fail(_EXPECT_OPERATOR)

    def literal_list(self, field: Field) -> tuple[object, ...]:
        self.expect(Kind.LPAREN, "expected '(' to open the list of values")
        operands: list[object] = []
        while True:
            literal = self.tok
            if literal.kind not in (Kind.STRING, Kind.NUMBER):
                raise self.fail("expected a quoted string or a number")
            self.values += 1
            if self.values > MAX_VALUES:
                raise self.lexer.error(
                    literal.position,
                    "too many values in IN lists",
                    f"the limit is {MAX_VALUES} in all",
                )
            self.advance()
            operands.append(self.operand(field, literal, "in"))
            if self.tok.kind is Kind.COMMA:
                self.advance()
                continue
            self.expect(Kind.RPAREN, "expected ',' or ')' in the list of values")
            return tuple(operands)

    def operand(self, field: Field, literal: Token, op: str) -> object:
        if op in LIKE_OPS:
            # A pattern is text whatever the field; only the upper-casing of status applies.
            if field.type is ValueType.STATUS:
                return literal.value.upper()
            if field.type is ValueType.PARAM:
                return literal.value
        return coerce_literal(field, literal, self.lexer)
