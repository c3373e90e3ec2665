"""ORM building blocks that make SQLite and PostgreSQL answer alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import NotSupportedError
from django.db.models import Lookup
from django.db.models.expressions import Combinable
from django.db.models.functions import Collate

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType


class BinaryCollate(Collate):
    """``expr COLLATE "C"`` on PostgreSQL and ``expr`` elsewhere.

    Text order then is code-point order on both backends (SQLite's default), whatever
    collation the PostgreSQL database was created with, so ``tags.x > 'B'`` and
    ``order_by=tags.x`` answer the same everywhere.
    """

    def __init__(self, expression: Combinable | str) -> None:
        super().__init__(expression, "C")

    # django-stubs give Collate.as_sql Django's real (narrower) signature and ignore the
    # override of Func.as_sql themselves; this method keeps Collate's signature.
    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        if connection.vendor != "postgresql":
            return compiler.compile(self.get_source_expressions()[0])
        return super().as_sql(compiler, connection, **extra_context)


# A LIKE pattern read into pieces: ANY (%), ONE (_) or a literal character.
ANY = object()
ONE = object()


def like_pieces(pattern: str) -> list[object]:
    """``pattern`` read with SQL's wildcards: ``%`` any run of characters, ``_`` any
    one; a backslash makes the next character literal (a trailing one is itself).
    Runs of ``%`` collapse to one, which they mean anyway."""
    pieces: list[object] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            pieces.append(next(chars, "\\"))
        elif ch == "%":
            if not pieces or pieces[-1] is not ANY:
                pieces.append(ANY)
        elif ch == "_":
            pieces.append(ONE)
        else:
            pieces.append(ch)
    return pieces


def _as_like(pieces: list[object]) -> str:
    out = []
    for piece in pieces:
        if piece is ANY:
            out.append("%")
        elif piece is ONE:
            out.append("_")
        else:
            out.append("\\" + str(piece) if piece in ("%", "_", "\\") else str(piece))
    return "".join(out)


def _as_glob(pieces: list[object]) -> str:
    out = []
    for piece in pieces:
        if piece is ANY:
            out.append("*")
        elif piece is ONE:
            out.append("?")
        else:
            out.append(f"[{piece}]" if piece in ("*", "?", "[") else str(piece))
    return "".join(out)


class Like(Lookup):
    """``lhs LIKE pattern``, case-sensitive on every backend (``ILike``: insensitive).

    The database's own matcher is used, not a regular expression: PostgreSQL's
    LIKE/ILIKE, and on SQLite GLOB (whose LIKE ignores case) or LIKE. Those run in
    polynomial time where a backtracking regex on ``'%a%a%a…%b'`` would not.
    ``ILike`` folds ASCII letters on SQLite, and follows the database locale on
    PostgreSQL.
    """

    lookup_name = "search_like"
    prepare_rhs = False
    case_sensitive = True

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> _AsSqlType:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        pieces = like_pieces(str(self.rhs))
        if connection.vendor == "postgresql":
            operator = "LIKE" if self.case_sensitive else "ILIKE"
            # Backslash is PostgreSQL's default LIKE escape.
            return f"{lhs_sql} {operator} %s", (*lhs_params, _as_like(pieces))
        if connection.vendor == "sqlite":
            if self.case_sensitive:
                return f"{lhs_sql} GLOB %s", (*lhs_params, _as_glob(pieces))
            return f"{lhs_sql} LIKE %s ESCAPE '\\'", (*lhs_params, _as_like(pieces))
        raise NotSupportedError(f"run search LIKE is not implemented for {connection.vendor}")


class ILike(Like):
    lookup_name = "search_ilike"
    case_sensitive = False
