"""The mappings a run exposes: ``run.config``, ``run.tags`` and ``run.summary``. Each
reads like a dict of what was recorded; a write validates and queues it for the sender."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kiroku import keys
from kiroku.redaction import redact_json, redact_value

if TYPE_CHECKING:
    from kiroku.run import Run


class _View(Mapping[str, Any]):
    """A read-only mapping of what was recorded; subclasses decide how a write travels."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def update(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        for key, value in {**dict(values or {}), **more}.items():
            self[key] = value

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __setitem__(self, key: str, value: Any) -> None:  # pragma: no cover (abstract)
        raise NotImplementedError


class Config(_View):
    """``run.config``: the run's params. Nested dicts are recorded as dotted keys
    (``{"optim": {"lr": 1e-3}}`` → param ``optim.lr``). Params are write-once on the
    server: setting a recorded key to a different value is reported once and ignored
    (raises InvalidInput with ``strict=True``). A secret is sent redacted: a param whose
    name says secret (``db.password``, ``api_key``) is recorded with the value
    ``[redacted:<kind>]``, and tokens or URL passwords inside other values are
    replaced (``kiroku.redaction.redact_value``); the run's own ``config`` keeps what
    was given."""

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self._sent: dict[str, str] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self._record({key: value})

    def update(self, values: Any = None, /, **more: Any) -> None:
        """Accepts a mapping, an ``argparse.Namespace`` or keywords."""
        mapping = keys.as_mapping(values) if values is not None else {}
        self._record({**mapping, **more})

    def _record(self, mapping: Mapping[str, Any]) -> None:
        clean: dict[str, str] = {}
        for top, value in mapping.items():
            if self._prepare(keys.flatten({top: value}), clean):
                self._data[top] = value
        if clean:
            self._run._meta("params", clean)

    def _prepare(self, flat: Mapping[str, Any], clean: dict[str, str]) -> bool:
        """Adds the new valid params of ``flat`` to ``clean``; False when any was
        refused (invalid, or a change to a write-once param)."""
        accepted = True
        for raw_key, raw_value in flat.items():
            key, problem = keys.key_clean(raw_key)
            text = None
            if key is not None:
                text, problem = keys.text_value(raw_value, max_length=keys.MAX_PARAM_VALUE_LENGTH)
            if text is not None:  # a marker may be longer than its secret: still within limits
                text = redact_value(key, text)[: keys.MAX_PARAM_VALUE_LENGTH]
            if problem or key is None or text is None:
                self._run._problem(f"param:{raw_key!r}", f"config key {raw_key!r}: {problem}")
                accepted = False
                continue
            previous = self._sent.get(key)
            if previous is not None and previous != text:
                self._run._problem(
                    f"param-change:{key}",
                    f"config {key!r} is already {previous!r}; params are write-once, so "
                    f"{text!r} is ignored (record a new key, a tag or a summary value instead)",
                )
                accepted = False
                continue
            if previous is None:
                self._sent[key] = text
                clean[key] = text
        return accepted

    def _seed(self, params: Mapping[str, str]) -> None:
        """What the server already holds (a resumed run), so changes are caught here."""
        self._sent.update(params)


class Tags(_View):
    """``run.tags``: text labels; a later value replaces the earlier one. Sent redacted
    as params are."""

    def __setitem__(self, key: str, value: Any) -> None:
        clean, problem = keys.key_clean(key)
        text = None
        if clean is not None:
            text, problem = keys.text_value(value, max_length=keys.MAX_TAG_VALUE_LENGTH)
        if clean is None or text is None:
            self._run._problem(f"tag:{key!r}", f"tag {key!r}: {problem}")
            return
        text = redact_value(clean, text)[: keys.MAX_TAG_VALUE_LENGTH]
        self._data[clean] = text
        self._run._meta("tags", {clean: text})

    def __delitem__(self, key: str) -> None:
        raise TypeError("tags cannot be removed from a script; remove them in the portal or API")


class Summary(_View):
    """``run.summary``: any JSON value per key (best accuracy, final loss...); a later
    value replaces the earlier one. Non-finite floats are sent as "NaN"/"Infinity".
    Strings are sent redacted as params are."""

    def __setitem__(self, key: str, value: Any) -> None:
        clean, problem = keys.key_clean(key)
        json_value = None
        if clean is not None:
            json_value, problem = keys.summary_value(value)
        if clean is None or problem is not None:
            self._run._problem(f"summary:{key!r}", f"summary {key!r}: {problem}")
            return
        self._data[clean] = value
        self._run._meta("summary", {clean: redact_json(json_value, clean)})
