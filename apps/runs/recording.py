"""Writing what a run records besides metric points: params, tags, summary values,
datasets. Called by services inside their transaction, with the run locked or new.

A run holds at most ``MAX_PARAMS_PER_RUN`` params and ``MAX_TAGS_PER_RUN`` tags in
all (apps.runs.limits), counted here under the run's lock, so concurrent batches
cannot pass the cap together. The count reads the ``(run, key)`` unique index, and
only for a write that adds keys: a batch of points alone pays nothing."""

from __future__ import annotations

from typing import Any

from apps.core.errors import Conflict, Invalid
from apps.runs import limits
from apps.runs.models import DatasetVersion, Param, Run, SummaryValue, Tag
from apps.runs.validation import DatasetIn, number_or_none


def params_add(*, run: Run, params: dict[str, str]) -> int:
    """Params are write-once: the same value again is accepted, a different one is a
    409 naming the key. Returns how many were new. Raises Invalid (``params``) when
    the run would hold more than MAX_PARAMS_PER_RUN."""
    if not params:
        return 0
    existing = dict(Param.objects.filter(run=run, key__in=list(params)).values_list("key", "value"))
    for key, value in params.items():
        if key in existing and existing[key] != value:
            raise Conflict(
                f"param '{key}' is already {existing[key]!r}; params are write-once "
                "(log a new key or a tag instead)",
                field=f"params.{key}",
            )
    new = [
        Param(run=run, key=key, value=value, value_num=number_or_none(value))
        for key, value in params.items()
        if key not in existing
    ]
    if new:
        _within_cap(run=run, model=Param, change=len(new), field="params")
    Param.objects.bulk_create(new)
    return len(new)


def tags_apply(*, run: Run, tags: dict[str, str | None]) -> list[str]:
    """Set tags (a None value removes the tag). Returns the keys that changed.
    Raises Invalid (``tags``) when the run would hold more than MAX_TAGS_PER_RUN."""
    if not tags:
        return []
    existing = {t.key: t for t in Tag.objects.filter(run=run, key__in=list(tags))}
    changed = []
    removed = [k for k, v in tags.items() if v is None and k in existing]
    added = sum(1 for k, v in tags.items() if v is not None and k not in existing)
    if added > len(removed):
        _within_cap(run=run, model=Tag, change=added - len(removed), field="tags")
    if removed:
        Tag.objects.filter(run=run, key__in=removed).delete()
        changed += removed
    new = []
    for key, value in tags.items():
        if value is None:
            continue
        tag = existing.get(key)
        if tag is None:
            new.append(Tag(run=run, key=key, value=value))
            changed.append(key)
        elif tag.value != value:
            tag.value = value
            tag.save(update_fields=["value"])
            changed.append(key)
    Tag.objects.bulk_create(new)
    return changed


def summary_upsert(*, run: Run, summary: dict[str, Any]) -> int:
    """Set summary values (last write wins). Returns how many were written."""
    if not summary:
        return 0
    existing = {s.key: s for s in SummaryValue.objects.filter(run=run, key__in=list(summary))}
    new = []
    for key, value in summary.items():
        row = existing.get(key)
        if row is None:
            new.append(SummaryValue(run=run, key=key, value=value))
        elif row.value != value:
            row.value = value
            row.save(update_fields=["value"])
    SummaryValue.objects.bulk_create(new)
    return len(summary)


def datasets_upsert(*, run: Run, datasets: list[DatasetIn]) -> int:
    """Record dataset versions by name; logging a name again updates it (the SDK
    sends the hash once its background thread has computed it)."""
    if not datasets:
        return 0
    existing = {
        d.name: d
        for d in DatasetVersion.objects.filter(run=run, name__in=[d.name for d in datasets])
    }
    new = []
    for item in datasets:
        fields = {
            "uri": item.uri,
            "digest": item.digest,
            "size": item.size,
            "file_count": item.file_count,
            "source": item.source,
        }
        row = existing.get(item.name)
        if row is None:
            new.append(DatasetVersion(run=run, name=item.name, **fields))
            continue
        # A later log fills in what an earlier one left empty, and replaces what it sent.
        updates = {k: v for k, v in fields.items() if v not in (None, "")}
        if any(getattr(row, k) != v for k, v in updates.items()):
            for k, v in updates.items():
                setattr(row, k, v)
            row.save(update_fields=list(updates))
    DatasetVersion.objects.bulk_create(new)
    return len(datasets)


def _within_cap(*, run: Run, model: type[Param] | type[Tag], change: int, field: str) -> None:
    """Raise Invalid naming ``field`` when the run's ``model`` rows plus ``change``
    would pass the run's cap."""
    limit = limits.MAX_PARAMS_PER_RUN if model is Param else limits.MAX_TAGS_PER_RUN
    held = model.objects.filter(run=run).count()
    if held + change > limit:
        raise Invalid(
            f"a run holds at most {limit:,} {field}; this one has {held:,} and the request "
            f"adds {change:,}",
            field=field,
        )
