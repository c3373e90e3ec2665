"""What an identifier in the search language names, and how each kind of value reads.

Filters and order_by share these rules, so ``metrics.acc`` or ``start_time`` means
the same thing in both.
"""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apps.core.times import OUT_OF_RANGE, as_utc
from apps.runs.search.lexer import PREFIXES, Kind, Lexer, Token
from apps.runs.validation import number_or_none


class ValueType(enum.Enum):
    NUMBER = "number"  # metrics (their last value)
    PARAM = "param"  # a number where both sides parse as one, else text
    TEXT = "text"
    STATUS = "status"  # text, compared upper-case
    TIME = "time"  # ISO-8601 text or epoch milliseconds
    DURATION = "duration"  # seconds


@dataclass(frozen=True)
class Attribute:
    """A run attribute the language exposes. ``column`` is the Run column (for
    ``author``, the foreign key: it compares and sorts by the user's username), or
    ``None`` for ``duration``, computed as ``ended_at - started_at``."""

    name: str
    column: str | None
    type: ValueType


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute("run_id", "public_id", ValueType.TEXT),
        Attribute("name", "name", ValueType.TEXT),
        Attribute("status", "status", ValueType.STATUS),
        Attribute("author", "author_id", ValueType.TEXT),
        Attribute("group", "group", ValueType.TEXT),
        Attribute("git.branch", "git_branch", ValueType.TEXT),
        Attribute("git.commit", "git_commit", ValueType.TEXT),
        # The SDK's idempotency key: how `kiroku.init(id=..., resume="must")` finds a run.
        Attribute("client_id", "client_id", ValueType.TEXT),
        Attribute("created", "created_at", ValueType.TIME),
        Attribute("start_time", "started_at", ValueType.TIME),
        Attribute("end_time", "ended_at", ValueType.TIME),
        Attribute("duration", None, ValueType.DURATION),
    )
}

# Other spellings, MLflow's among them; looked up lower-cased, like the names above.
ATTRIBUTE_ALIASES: dict[str, str] = {
    "id": "run_id",
    "run_name": "name",
    "run name": "name",
    "user_id": "author",
    "created_at": "created",
    "started_at": "start_time",
    "ended_at": "end_time",
    "git_branch": "git.branch",
    "git_commit": "git.commit",
}

# DatasetVersion columns a filter may test; a run matches when any of its datasets does.
DATASET_COLUMNS: dict[str, str] = {
    "name": "name",
    "digest": "digest",
    "hash": "digest",
    "uri": "uri",
    "source": "source",
}

_ENTITY_LABEL = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "attribute": "attributes",
    "dataset": "datasets",
}
_ENTITY_TYPE = {"metric": ValueType.NUMBER, "param": ValueType.PARAM, "tag": ValueType.TEXT}


@dataclass(frozen=True)
class Field:
    """What an identifier names. ``key`` is the metric/param/tag key, the canonical
    attribute name, or the DatasetVersion column."""

    entity: str  # "metric" | "param" | "tag" | "attribute" | "dataset"
    key: str
    type: ValueType

    @property
    def label(self) -> str:
        if self.entity == "attribute":
            return self.key
        if re.fullmatch(r"[A-Za-z0-9_\-/.]+", self.key):
            return f"{_ENTITY_LABEL[self.entity]}.{self.key}"
        return f"{_ENTITY_LABEL[self.entity]}.`{self.key.replace('`', '``')}`"

    @property
    def attribute(self) -> Attribute:
        return ATTRIBUTES[self.key]


def _valid_identifiers() -> str:
    return (
        "metrics.<key>, params.<key>, tags.<key>, datasets.name, datasets.digest, "
        "datasets.uri, datasets.source, or an attribute: " + ", ".join(ATTRIBUTES)
    )


# How alike a misspelling and a name must be (difflib's ratio) for "did you mean".
_CLOSE_ENOUGH = 0.75
# Attribute names with a dot (git.branch): "git" reads as their head, not as a prefix.
_DOTTED = {name: name for name in ATTRIBUTES if "." in name}
_DOTTED_HEADS = frozenset(name.split(".", 1)[0] for name in _DOTTED)


def _did_you_mean(word: str, names: dict[str, str]) -> str:
    """ "did you mean `x`? " for the name in ``names`` (a spelling → what to suggest)
    closest to ``word``, or "" when none is close enough."""
    found = difflib.get_close_matches(word.lower(), list(names), n=1, cutoff=_CLOSE_ENOUGH)
    return f"did you mean `{names[found[0]]}`? " if found else ""


def _attribute_spellings() -> dict[str, str]:
    return {
        **{name: name for name in ATTRIBUTES},
        **{alias: name for alias, name in ATTRIBUTE_ALIASES.items()},
    }


def resolve_identifier(token: Token, lexer: Lexer) -> Field:
    """The Field an ``IDENT`` token names. Raises SearchSyntaxError naming the valid
    prefixes and attributes when it names none, led by "did you mean `metrics.`?" when
    a valid prefix, attribute or dataset field is spelt closely alike."""
    if token.prefix in _ENTITY_TYPE:
        return Field(token.prefix, token.value, _ENTITY_TYPE[token.prefix])
    if token.prefix == "dataset":
        column = DATASET_COLUMNS.get(token.value.lower())
        if column is None:
            hint = _did_you_mean(
                token.value, {name: f"datasets.{name}" for name in DATASET_COLUMNS}
            )
            raise lexer.error(
                token.position,
                f"unknown dataset field {token.value!r}",
                hint + "valid: " + ", ".join(f"datasets.{name}" for name in DATASET_COLUMNS),
            )
        return Field("dataset", column, ValueType.TEXT)
    name = token.value.lower()
    name = ATTRIBUTE_ALIASES.get(name, name)
    attribute = ATTRIBUTES.get(name)
    if attribute is not None:
        return Field("attribute", attribute.name, attribute.type)
    if token.prefix is None and name in PREFIXES:
        raise lexer.error(
            token.position, f"missing key after '{token.value}'", f"write {token.value}.<key>"
        )
    if token.prefix is None and "." in name and name.split(".", 1)[0] not in _DOTTED_HEADS:
        head = token.value.split(".", 1)[0]
        prefixes = {spelling: f"{_ENTITY_LABEL[entity]}." for spelling, entity in PREFIXES.items()}
        raise lexer.error(
            token.position,
            f"unknown prefix {head!r}",
            (_did_you_mean(name, _DOTTED) or _did_you_mean(head, prefixes))
            + f"valid: {_valid_identifiers()}",
        )
    raise lexer.error(
        token.position,
        f"unknown attribute {token.value!r}",
        _did_you_mean(token.value, _attribute_spellings()) + f"valid: {_valid_identifiers()}",
    )


@dataclass(frozen=True)
class ParamOperand:
    """A literal compared with a param: its text, and its value when it is a number."""

    text: str
    number: float | None


def coerce_literal(field: Field, token: Token, lexer: Lexer) -> object:
    """The operand ``token`` (a STRING or NUMBER) gives when compared with ``field``:
    a float (metrics), ParamOperand (params), str (text, status upper-cased), an aware
    datetime (times), or a timedelta (duration). Raises SearchSyntaxError when the
    literal cannot be compared with the field."""
    is_number = token.kind is Kind.NUMBER
    vt = field.type
    if vt is ValueType.NUMBER:
        if not is_number:
            raise lexer.error(
                token.position,
                f"{field.label} is a number and cannot be compared with string {token.value!r}",
                f"write a bare number, as in {field.label} > 0.5",
            )
        return token.number
    if vt is ValueType.PARAM:
        if is_number:
            return ParamOperand(token.value, token.number)
        # The rule ingestion fills value_num with, so "both sides parse" means one thing.
        return ParamOperand(token.value, number_or_none(token.value))
    if vt in (ValueType.TEXT, ValueType.STATUS):
        if is_number:
            raise lexer.error(
                token.position,
                f"{field.label} is text and cannot be compared with number {token.value}",
                f"quote it: {field.label} = '{token.value}'",
            )
        return token.value.upper() if vt is ValueType.STATUS else token.value
    if vt is ValueType.TIME:
        return _time(field, token, lexer)
    if not is_number:
        raise lexer.error(
            token.position,
            f"{field.label} is a number of seconds and cannot be compared with "
            f"string {token.value!r}",
            f"write a bare number, as in {field.label} > 3600",
        )
    try:
        return timedelta(seconds=token.number or 0.0)
    except OverflowError:
        raise lexer.error(token.position, f"duration {token.value} is out of range") from None


def _time(field: Field, token: Token, lexer: Lexer) -> datetime:
    try:
        if token.kind is Kind.NUMBER:
            # MLflow's convention: a bare number is milliseconds since the epoch.
            return datetime.fromtimestamp((token.number or 0.0) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(token.value)
    except (ValueError, OverflowError, OSError):
        raise lexer.error(
            token.position,
            f"{field.label} cannot be compared with {token.describe()}",
            "write an ISO-8601 time such as '2024-05-01T12:00:00Z' or epoch milliseconds",
        ) from None
    # A time without an offset is read as UTC, the server's zone.
    utc = as_utc(parsed)
    if utc is None:
        raise lexer.error(
            token.position,
            f"{field.label} cannot be compared with {token.describe()}: {OUT_OF_RANGE}",
            "write an ISO-8601 time such as '2024-05-01T12:00:00Z' or epoch milliseconds",
        )
    return utc
