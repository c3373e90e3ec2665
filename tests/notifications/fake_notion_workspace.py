"""The state and operations behind the fake Notion API (``fake_notion.FakeNotion``).

One database with one data source whose schema is configurable, and the pages created in
it with all their blocks. Each operation checks its body the way Notion does
(``fake_notion_checks``) and answers Notion's JSON; errors are raised as ``Answer``.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.notifications.fake_notion_checks import Invalid, check_children, check_properties

DEFAULT_SCHEMA: dict[str, Any] = {
    "Name": "title",
    "Status": "select",
    "Project": "rich_text",
    "URL": "url",
    "Created": "date",
    "val/acc": "number",
    "val/loss": "number",
}


class Answer(Exception):
    """An error answer: HTTP status, Notion error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _norm(object_id: str) -> str:
    return object_id.replace("-", "").lower()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Workspace:
    """``schema``: property name -> type name, or a dict {"type": ..., "options": [names]}
    for select/status; ``kiroku_id`` adds the rich-text "Kiroku ID" property."""

    def __init__(self, *, schema: dict[str, Any] | None = None, kiroku_id: bool = True) -> None:
        self.database_id = str(uuid.uuid4())
        self.data_source_id = str(uuid.uuid4())
        self.bot_id = str(uuid.uuid4())
        self.schema: dict[str, dict] = {}
        for name, spec in (schema or DEFAULT_SCHEMA).items():
            self._add_property(name, spec)
        if kiroku_id and "Kiroku ID" not in self.schema:
            self._add_property("Kiroku ID", "rich_text")
        self.pages: list[dict] = []

    def drop_property(self, name: str) -> None:
        self.schema.pop(name, None)

    @staticmethod
    def page_text(page: dict) -> str:
        """All plain text of a page's blocks, in order (table cells included)."""
        parts = []
        for block in page["children"]:
            body = block[block["type"]]
            parts += [t["text"]["content"] for t in body.get("rich_text", [])]
            for row in body.get("children", []) if block["type"] == "table" else []:
                for cell in row["table_row"]["cells"]:
                    parts += [t["text"]["content"] for t in cell]
        return "".join(parts)

    def dispatch(self, op: str, object_id: str, body: dict, query: dict) -> dict:
        """Do operation ``op`` ("pages.create", ...); raise Answer or Invalid."""
        return getattr(self, "_" + op.replace(".", "_"))(object_id, body, query)

    def _add_property(self, name: str, spec: str | dict) -> None:
        spec = {"type": spec} if isinstance(spec, str) else dict(spec)
        kind = spec["type"]
        config = {k: v for k, v in spec.items() if k != "type"}
        if kind in ("select", "status"):
            names = config.get("options", [])
            options = [{"id": uuid.uuid4().hex[:4], "name": n} for n in names]
            config = {"options": options}
        prop_id = "title" if kind == "title" else uuid.uuid4().hex[:4]
        self.schema[name] = {"id": prop_id, "name": name, "type": kind, kind: config}

    def _data_source(self, object_id: str) -> None:
        if _norm(object_id) != _norm(self.data_source_id):
            raise Answer(
                404, "object_not_found", f"Could not find data_source with ID: {object_id}."
            )

    def _users_me(self, object_id, body, query) -> dict:
        return {"object": "user", "id": self.bot_id, "type": "bot", "name": "Kiroku", "bot": {}}

    def _databases_retrieve(self, object_id, body, query) -> dict:
        if _norm(object_id) != _norm(self.database_id):
            raise Answer(404, "object_not_found", f"Could not find database with ID: {object_id}.")
        title = [{"type": "text", "text": {"content": "Runs"}, "plain_text": "Runs"}]
        return {
            "object": "database",
            "id": self.database_id,
            "title": title,
            "data_sources": [{"id": self.data_source_id, "name": "Runs"}],
            "parent": {"type": "workspace", "workspace": True},
            "is_inline": False,
            "in_trash": False,
            "url": f"https://www.notion.so/{_norm(self.database_id)}",
        }

    def _data_sources_retrieve(self, object_id, body, query) -> dict:
        self._data_source(object_id)
        return {
            "object": "data_source",
            "id": self.data_source_id,
            "title": [{"type": "text", "text": {"content": "Runs"}, "plain_text": "Runs"}],
            "parent": {"type": "database_id", "database_id": self.database_id},
            "properties": copy.deepcopy(self.schema),
        }

    def _data_sources_update(self, object_id, body, query) -> dict:
        self._data_source(object_id)
        for name, spec in (body.get("properties") or {}).items():
            if spec is None:
                self.schema.pop(name, None)
                continue
            kinds = [k for k in spec if k not in ("name", "description")]
            if len(kinds) != 1:
                raise Invalid(f"body.properties.{name} should name one property type.")
            self._add_property(name, {"type": kinds[0], **(spec[kinds[0]] or {})})
        return self._data_sources_retrieve(object_id, body, query)

    def _data_sources_query(self, object_id, body, query) -> dict:
        self._data_source(object_id)
        found = list(self.pages)
        filt = body.get("filter")
        if filt is not None:
            name = filt.get("property")
            if name not in self.schema:
                raise Invalid(f"Could not find property with name or id: {name}")
            kind = self.schema[name]["type"]
            if set(filt) != {"property", kind} or set(filt[kind]) != {"equals"}:
                raise Invalid(f"filter for {name} should be {{{kind}: {{equals: ...}}}}.")
            wanted = filt[kind]["equals"]
            found = [p for p in found if _plain(p["properties"].get(name, {}).get(kind)) == wanted]
        size = min(int(body.get("page_size", 100)), 100)
        results = [self._page_object(p) for p in found[:size]]
        return {
            "object": "list",
            "results": results,
            "next_cursor": None,
            "has_more": len(found) > size,
            "type": "page_or_data_source",
            "page_or_data_source": {},
        }

    def _pages_create(self, object_id, body, query) -> dict:
        parent = body.get("parent") or {}
        if parent.get("type") != "data_source_id" or "data_source_id" not in parent:
            raise Invalid(
                "body.parent.type should be `data_source_id` (Notion-Version 2025-09-03)."
            )
        self._data_source(parent["data_source_id"])
        check_properties(body.get("properties"), self.schema, need_title=True)
        children = body.get("children", [])
        check_children(children, "body.children")
        page_id = str(uuid.uuid4())
        page = {
            "id": page_id,
            "parent": parent,
            "properties": copy.deepcopy(body["properties"]),
            "children": [_stored(b) for b in children],
            "created_time": _now(),
            "url": f"https://www.notion.so/{_norm(page_id)}",
        }
        self.pages.append(page)
        return self._page_object(page)

    def _find_page(self, object_id: str) -> dict:
        for page in self.pages:
            if _norm(page["id"]) == _norm(object_id):
                return page
        raise Answer(404, "object_not_found", f"Could not find block with ID: {object_id}.")

    def _blocks_children_append(self, object_id, body, query) -> dict:
        page = self._find_page(object_id)
        check_children(body.get("children"), "body.children")
        added = [_stored(b) for b in body["children"]]
        page["children"].extend(added)
        return {
            "object": "list",
            "results": added,
            "next_cursor": None,
            "has_more": False,
            "type": "block",
            "block": {},
        }

    def _blocks_children_list(self, object_id, body, query) -> dict:
        children = self._find_page(object_id)["children"]
        size = min(int(query.get("page_size", ["100"])[0]), 100)
        ids = [b["id"] for b in children]
        cursor = query.get("start_cursor", [None])[0]
        start = ids.index(cursor) if cursor in ids else 0
        chunk = children[start : start + size]
        more = start + size < len(children)
        # Listings show nested blocks (table rows) only through has_children.
        results = [_listed(b) for b in chunk]
        return {
            "object": "list",
            "results": results,
            "has_more": more,
            "next_cursor": ids[start + size] if more else None,
            "type": "block",
            "block": {},
        }

    def _page_object(self, page: dict) -> dict:
        properties = {}
        for name, spec in self.schema.items():
            kind = spec["type"]
            value = (
                page["properties"]
                .get(name, {})
                .get(kind, [] if kind in ("title", "rich_text") else None)
            )
            if kind in ("title", "rich_text"):
                value = [{**t, "plain_text": t["text"]["content"], "href": None} for t in value]
            properties[name] = {"id": spec["id"], "type": kind, kind: value}
        return {
            "object": "page",
            "id": page["id"],
            "created_time": page["created_time"],
            "last_edited_time": page["created_time"],
            "created_by": {"object": "user", "id": self.bot_id},
            "parent": {**page["parent"], "database_id": self.database_id},
            "archived": False,
            "in_trash": False,
            "is_locked": False,
            "icon": None,
            "cover": None,
            "properties": properties,
            "url": page["url"],
            "public_url": None,
        }


def _plain(rich: Any) -> str | None:
    return "".join(t["text"]["content"] for t in rich) if isinstance(rich, list) else None


def _listed(block: dict) -> dict:
    listed = copy.deepcopy(block)
    listed[block["type"]].pop("children", None)
    return listed


def _stored(block: dict) -> dict:
    stored = copy.deepcopy(block)
    stored["id"] = str(uuid.uuid4())
    stored["has_children"] = bool(block[block["type"]].get("children"))
    return stored
