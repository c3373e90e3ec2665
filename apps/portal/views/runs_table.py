"""A project's runs table: search, sort, pages, chosen columns, saved views, and the
selection that opens the compare page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from apps.ci.selectors import runs_with_ci_verdict
from apps.collab.selectors import comparison_list_for_project
from apps.core.errors import Conflict, Invalid
from apps.portal.models import SavedView
from apps.portal.selectors import column_choice_get, saved_view_get_in_project, saved_view_list
from apps.portal.services import column_choice_save, saved_view_create, saved_view_delete
from apps.portal.views.base import PortalView
from apps.portal.views.run.ci import ci_badge
from apps.projects.models import Role
from apps.projects.tokens import token_create
from apps.runs import search, selectors
from apps.runs.columns import Columns, columns_parse, columns_prefetch
from apps.runs.keys import (
    ResultSetKeys,
    columns_default,
    columns_with,
    filter_key_hints,
    filter_key_replaced,
    named_columns,
    result_set_keys,
)
from apps.runs.links import runs_path
from apps.runs.models import Run
from apps.runs.search import SearchSyntaxError, SearchTimeout
from apps.runs.search.timeout import search_timeout

PAGE_SIZE = 50
CHOOSER_LIMIT = 100
FIXED_SORTS = {"name": "Name", "status": "Status", "author": "Author", "created": "Created",
               "duration": "Duration"}  # fmt: skip


def columns_text(columns: Columns) -> str:
    return ",".join(
        f"{kind}.{key}" for kind in ("params", "metrics", "tags") for key in getattr(columns, kind)
    )


@dataclass
class Column:
    kind: str  # params, metrics, tags
    key: str
    sort: str  # the order_by identifier

    @property
    def label(self) -> str:
        return f"{self.kind[:-1]}.{self.key}" if self.kind != "metrics" else self.key


@dataclass
class Table:
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    next_cursor: str | None = None
    error: str | None = None
    error_field: str | None = None
    # The defaults are shown (nobody chose columns); how many of the result set's
    # metric and param keys no column shows (the "+N more" that opens the chooser).
    default_columns: bool = True
    hidden_keys: int = 0
    # For a filter that matched nothing: the keys it names that no run has, each with
    # the closest keys as (label, the filter with the key replaced).
    hints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def width(self) -> int:
        """How many columns the table has: select, name, status, author, created and
        duration, the chosen ones, and the "+N more" one when shown."""
        return 6 + len(self.columns) + (1 if self.hidden_keys else 0)

    @property
    def error_headline(self) -> str:
        return (self.error or "").partition("\n")[0]

    @property
    def error_excerpt(self) -> str:
        """The excerpt with its caret under the column (SearchSyntaxError), or ''."""
        return (self.error or "").partition("\n")[2]


def _order_toggle(current: str, identifier: str) -> str:
    """Clicking a header sorts by it, descending first; clicking again flips it."""
    if current.strip() == f"{identifier} DESC":
        return f"{identifier} ASC"
    return f"{identifier} DESC"


class RunsTableView(PortalView):
    """The table. Its params/metrics/tags columns are the reader's choice (from the
    URL, a saved view, or remembered per user and project) or, without one, the
    project's defaults (apps.runs.keys.columns_default, from a sample of the result
    set); the keys the filter or the sort names are always shown on top of either."""

    access = Role.VIEWER

    def get(self, request, slug: str) -> HttpResponse:
        query = request.GET
        saved = None
        if query.get("view"):
            saved = saved_view_get_in_project(project=self.project, view_id=query["view"])
        filter_text = query.get("filter", saved.filter if saved else "")
        order_by = query.get("order_by", saved.order_by if saved else "")
        table = Table()
        chosen = self._chosen(request, saved, table)
        runs: list[Run] = []
        shown = chosen or Columns()
        if table.error is None:
            try:
                runs, table.next_cursor = search.runs_search(
                    queryset=runs_with_ci_verdict(
                        runs=selectors.run_list_for_project(project=self.project)
                    ),
                    filter=filter_text,
                    order_by=order_by,
                    page_size=PAGE_SIZE,
                    cursor=query.get("cursor") or None,
                )
                shown = self._shown(table, chosen, filter_text, order_by, empty=not runs)
            except (SearchSyntaxError, Invalid) as exc:
                runs, table.error, table.error_field = [], exc.message, exc.field
        table.columns = [
            Column(kind, key, f"{kind}.`{key}`")
            for kind in ("metrics", "params", "tags")
            for key in getattr(shown, kind)
        ]
        selectors.runs_attach_listing(runs=runs, project=self.project)
        values = columns_prefetch(runs, shown)
        table.rows = [
            {"run": run, "ci_badge": ci_badge(run.ci, run.ci_verdict), **values.for_run(run)}
            for run in runs
        ]
        chosen_text = columns_text(chosen) if chosen is not None else ""
        base_query = {"filter": filter_text, "order_by": order_by, "columns": chosen_text}
        context = {
            "project": self.project,
            "role": self.role(),
            "table": table,
            "filter": filter_text,
            "order_by": order_by,
            "columns": chosen_text,
            "shown_columns": columns_text(shown),
            "reset_columns_query": urlencode(
                {**{k: v for k, v in base_query.items() if v}, "columns": ""}
            ),
            "saved": saved,
            "saved_views": saved_view_list(project=self.project),
            "saved_comparisons": comparison_list_for_project(project=self.project)[:50],
            "sorts": [
                (identifier, label, _order_toggle(order_by, identifier))
                for identifier, label in FIXED_SORTS.items()
            ],
            "column_sorts": [(c, _order_toggle(order_by, c.sort)) for c in table.columns],
            "base_query": base_query,
            "server_url": request.build_absolute_uri("/").rstrip("/"),
            "has_runs": bool(runs)
            or bool(filter_text)
            or selectors.run_list_for_project(project=self.project).exists(),
        }
        template = "portal/_runs_table.html" if request.htmx else "portal/runs.html"
        # htmx swaps only 2xx answers: the inline error is a 200 there.
        status = 400 if table.error and not request.htmx else 200
        return render(request, template, context, status=status)

    def _shown(
        self, table: Table, chosen: Columns | None, filter_text: str, order_by: str, *, empty: bool
    ) -> Columns:
        """The columns to show (the reader's or the defaults, then what the filter and
        sort name), noting on ``table`` how many keys of the result set stay hidden and,
        for a filter that matched nothing, the keys it names that no run has. Called
        after the search, so the filter and sort are known to parse."""
        node = search.parse_filter(filter_text)
        named = named_columns(
            filter=node, order=[key.field for key in search.parse_order_by(order_by)]
        )
        wanted = chosen if chosen is not None else Columns(metrics=self.project.primary_metrics)
        try:
            with search_timeout():
                keys = result_set_keys(
                    runs=selectors.run_list_for_project(project=self.project).filter(
                        search.compile_filter(node)
                    ),
                    include=columns_with(wanted, named),
                )
        except SearchTimeout:
            # The page came back in time; its columns are not worth a failed page.
            keys = ResultSetKeys()
        base = chosen if chosen is not None else columns_default(project=self.project, keys=keys)
        shown = columns_with(base, named)
        table.default_columns = chosen is None
        table.hidden_keys = keys.hidden(shown)
        if empty and node is not None:
            table.hints = [
                {
                    "entity": hint.entity,
                    "key": hint.key,
                    "suggestions": [
                        (label, filter_key_replaced(filter_text, column=hint.column, label=label))
                        for label in hint.closest
                    ],
                }
                for hint in filter_key_hints(project=self.project, node=node)
            ]
        return shown

    def _chosen(self, request, saved: SavedView | None, table: Table) -> Columns | None:
        """The reader's columns, or None for the project's defaults. ``columns`` in the
        URL is a new choice, remembered (an empty one goes back to the defaults)."""
        raw = request.GET.get("columns")
        remembered = column_choice_get(user=request.user, project=self.project)
        if raw is not None:
            try:
                columns = columns_parse(raw)
            except Invalid as exc:
                table.error, table.error_field = exc.message, exc.field
                return None
            if remembered is None or remembered.columns != raw:
                column_choice_save(principal=self.principal, project=self.project, columns=raw)
            return columns
        if saved is not None:
            return columns_parse(saved.columns)
        if remembered is not None:
            return columns_parse(remembered.columns)
        return None

    def post(self, request, slug: str) -> HttpResponse:
        """The empty state's "make me a token" button: a personal token for the
        snippet, shown once."""
        created = token_create(
            principal=self.principal, owner=request.user, name=f"SDK snippet for {slug}"
        )
        context = {
            "project": self.project,
            "snippet_token": created.secret,
            "server_url": request.build_absolute_uri("/").rstrip("/"),
        }
        return render(request, "portal/_snippet.html", context)


class ColumnKeysView(PortalView):
    """The column chooser's list: keys of params, metrics and tags in the project that
    contain ``q``, at most CHOOSER_LIMIT of each kind."""

    access = Role.VIEWER

    def get(self, request, slug: str) -> HttpResponse:
        needle = request.GET.get("q", "").strip()[:250]
        chosen = set(filter(None, request.GET.get("columns", "").split(",")))
        groups = []
        for kind in selectors.KEY_MODELS:
            found = selectors.run_keys_in_project(
                project=self.project, kind=kind, contains=needle, limit=CHOOSER_LIMIT + 1
            )
            groups.append(
                {
                    "kind": kind,
                    "keys": [(key, f"{kind}.{key}" in chosen) for key in found[:CHOOSER_LIMIT]],
                    "more": len(found) > CHOOSER_LIMIT,
                }
            )
        return render(request, "portal/_column_keys.html", {"groups": groups, "q": needle})


class SavedViewsView(PortalView):
    """Save the current filter, sort and columns under a name (members), or delete a
    saved view (its creator or an admin)."""

    access = Role.VIEWER

    def post(self, request, slug: str) -> HttpResponse:
        url = runs_path(slug)
        if "delete" in request.POST:
            view = saved_view_get_in_project(project=self.project, view_id=request.POST["delete"])
            saved_view_delete(principal=self.principal, view=view)
            messages.success(request, f"View “{view.name}” deleted.")
            return redirect(url)
        try:
            view = saved_view_create(
                principal=self.principal,
                project=self.project,
                name=request.POST.get("name", ""),
                filter=request.POST.get("filter", ""),
                order_by=request.POST.get("order_by", ""),
                columns=request.POST.get("columns", ""),
            )
        except (Invalid, Conflict) as exc:
            messages.error(request, f"The view was not saved: {exc.message}")
            return redirect(url)
        return redirect(f"{url}?view={view.pk}")
