"""Integrations and notifications, for a project's admins: the comparison settings
(baseline and primary metrics), the Slack and Notion destinations, the rules that
send to them, a "Send test message" button per destination, and the delivery log.

Every form posts here with an ``action`` and calls the same service as the API. A
success redirects back with a message (POST/redirect/GET); a refusal is shown next to
its form, with the service's status code. The test button is enhanced by htmx: its
answer is a fragment saying "Sent" or the error code (always a 200, since htmx only
swaps those), never what the remote answered. Tokens are never shown or pre-filled:
the page shows their masked hint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.core.errors import Invalid, KirokuError, NotFound
from apps.notifications import catalog
from apps.notifications.models import Destination, DestinationKind, Rule
from apps.notifications.selectors import (
    delivery_list,
    destination_get_in_project,
    destination_list,
    rule_get_in_project,
    rule_list,
)
from apps.notifications.services.destinations import (
    destination_create,
    destination_delete,
    destination_test,
    destination_update,
)
from apps.notifications.services.rules import rule_create, rule_delete, rule_update
from apps.notifications.validation import (
    COOLDOWN_MAX,
    TARGET_KEY,
    destination_create_clean,
    destination_update_clean,
    rule_create_clean,
    rule_update_clean,
)
from apps.portal.views.base import ActionFormView
from apps.projects.comparison import BASELINE_MODES, GOALS, project_baseline
from apps.projects.models import Role
from apps.projects.services import project_update
from apps.projects.validation import project_update_clean

LOG_SIZE = 50


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _number(text: str, field: str) -> float | int:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise Invalid(f"{field} must be a number", field=field) from None
    if not math.isfinite(value):
        raise Invalid(f"{field} must be a finite number", field=field)
    return value


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise Invalid("write tag filters as key=value, one per line", field="filters.tags")
        tags[key.strip()] = value.strip()
    return tags


def _baseline(post) -> dict[str, str] | None:
    """The baseline setting the comparison form describes, in the API's shape (which
    project_update_clean checks)."""
    mode = post.get("baseline_mode", "")
    if not mode:
        return None
    fields = {"best": ("metric", "goal"), "branch": ("branch",), "pinned": ("run",)}
    return {"mode": mode, **{f: post.get(f"baseline_{f}", "") for f in fields.get(mode, ())}}


def rule_form_values(rule: Rule) -> dict[str, Any]:
    """A rule as its edit form shows it."""
    condition, filters = rule.condition, rule.filters
    value = condition.get("value")
    return {
        "rule": str(rule.pk),
        "event": rule.event,
        "destination": str(rule.destination_id),
        "metric": condition.get("metric", ""),
        "op": condition.get("op", ""),
        "value": "" if value is None else str(value),
        "goal": condition.get("goal", ""),
        "metrics": ", ".join(condition.get("metrics", [])),
        "tags": "\n".join(f"{k}={v}" for k, v in filters.get("tags", {}).items()),
        "name": filters.get("name", ""),
        "author": filters.get("author", ""),
        "branch": filters.get("branch", ""),
        "cooldown": str(rule.cooldown_seconds),
        "enabled": rule.enabled,
    }


def _rule_fields(post) -> dict[str, Any]:
    """A rule form as the API's body (which rule_create_clean and rule_update_clean
    check)."""
    event = post.get("event", "")
    condition: dict[str, Any] = {}
    if event == catalog.METRIC_THRESHOLD:
        condition = {
            "metric": post.get("metric", ""),
            "op": post.get("op", ""),
            "value": _number(post.get("value", ""), "condition.value"),
        }
    elif event == catalog.RUN_NEW_BEST:
        condition = {"metric": post.get("metric", ""), "goal": post.get("goal", "")}
    metrics = _split(post.get("metrics", ""))
    if metrics:
        condition["metrics"] = metrics
    filters = {
        "tags": _tags(post.get("tags", "")),
        "name": post.get("name", "").strip(),
        "author": post.get("author", "").strip(),
        "branch": post.get("branch", "").strip(),
    }
    cooldown_text = post.get("cooldown", "").strip() or "0"
    if not (cooldown_text.isascii() and cooldown_text.isdigit()) or len(cooldown_text) > 9:
        raise Invalid(
            f"cooldown must be whole seconds from 0 to {COOLDOWN_MAX} (7 days)", field="cooldown"
        )
    return {
        "event": event,
        "destination": post.get("destination", ""),
        "condition": condition,
        "filters": filters,
        "cooldown": int(cooldown_text),
        "enabled": post.get("enabled") == "on",
    }


class IntegrationsView(ActionFormView):
    access = Role.ADMIN

    def refusal_status(self, request, exc: KirokuError) -> int:
        return 200 if request.htmx else exc.status  # htmx swaps only 2xx answers

    # -- the page ------------------------------------------------------------------------

    def _page(
        self, request, *, errors: dict[str, str] | None = None, status: int = 200
    ) -> HttpResponse:
        principal, project = self.principal, self.project
        errors = errors or {}
        destinations = list(destination_list(principal=principal, project=project))
        rules = list(rule_list(principal=principal, project=project))
        log = delivery_list(principal=principal, project=project, limit=LOG_SIZE)
        names = {d.pk: d.name for d in destinations}
        posted = request.POST.copy() if errors else {}
        posted.pop("token", None)
        action = posted.get("action", "")
        for destination in destinations:
            mine = action in {"destination_edit", "destination_delete", "destination_test"} and (
                posted.get("destination") == str(destination.pk)
            )
            destination.error = errors.get(action) if mine else None
            refused_edit = mine and action == "destination_edit"
            destination.form_name = posted.get("name") if refused_edit else destination.name
            destination.form_target = posted.get("target") if refused_edit else destination.target
        for rule in rules:
            rule.title = catalog.EVENT_TITLES.get(rule.event, rule.event)
            rule.prefix = f"rule-{rule.pk}"
            mine = action in {"rule_edit", "rule_delete"} and posted.get("rule") == str(rule.pk)
            rule.form = posted if mine and action == "rule_edit" else rule_form_values(rule)
            rule.error = errors.get(action) if mine else None
        for delivery in log.deliveries:
            delivery.destination_name = names.get(delivery.destination_id, "")
            run_id = delivery.run_id
            delivery.run_public_id = log.run_public_ids.get(run_id) if run_id is not None else None
        baseline = project_baseline(project)
        context: dict[str, Any] = {
            "project": project,
            "destinations": destinations,
            "rules": rules,
            "deliveries": log.deliveries,
            "more_deliveries": log.next_before is not None,
            "events": [(e, catalog.EVENT_TITLES[e]) for e in catalog.RULE_EVENTS],
            "operators": catalog.THRESHOLD_OPERATORS,
            "goals": GOALS,
            "kinds": DestinationKind.choices,
            "baseline_modes": BASELINE_MODES,
            "baseline": baseline,
            "primary_metrics": ", ".join(project.primary_metrics or []),
            "errors": errors,
            # What was typed, so a refused form keeps it (only on a refusal, never a token).
            "form": posted,
            "new_rule": (
                posted
                if action == "rule_add"
                else {"enabled": True, "cooldown": "0", "goal": "max"}
            ),
            "page_url": reverse("portal:integrations", kwargs={"slug": project.slug}),
        }
        return render(request, "portal/integrations.html", context, status=status)

    def _back(self, section: str) -> HttpResponse:
        url = reverse("portal:integrations", kwargs={"slug": self.project.slug})
        return redirect(url + section)

    def _destination(self, request) -> Destination:
        return destination_get_in_project(
            project=self.project, destination_id=request.POST.get("destination", "")
        )

    def _rule(self, request) -> Rule:
        return rule_get_in_project(project=self.project, rule_id=request.POST.get("rule", ""))

    # -- actions -------------------------------------------------------------------------

    def _comparison(self, request) -> HttpResponse:
        data = project_update_clean(
            {
                "baseline": _baseline(request.POST),
                "primary_metrics": _split(request.POST.get("primary_metrics", "")),
            }
        )
        project_update(principal=self.principal, project=self.project, data=data)
        messages.success(request, "Comparison settings saved.")
        return self._back("#comparison")

    def _destination_add(self, request) -> HttpResponse:
        kind = request.POST.get("kind", "")
        key = TARGET_KEY.get(kind, "target")
        data = destination_create_clean(
            {
                "kind": kind,
                "name": request.POST.get("name", ""),
                "config": {
                    "token": request.POST.get("token", ""),
                    key: request.POST.get("target", ""),
                },
            }
        )
        destination = destination_create(principal=self.principal, project=self.project, data=data)
        messages.success(
            request, f"Destination “{destination.name}” added. Send it a test message."
        )
        return self._back("#destinations")

    def _destination_edit(self, request) -> HttpResponse:
        destination = self._destination(request)
        config = {TARGET_KEY[DestinationKind(destination.kind)]: request.POST.get("target", "")}
        if request.POST.get("token", "").strip():
            config["token"] = request.POST["token"]
        data = destination_update_clean(
            {"name": request.POST.get("name", ""), "config": config}, kind=destination.kind
        )
        destination_update(principal=self.principal, destination=destination, data=data)
        messages.success(request, f"Destination “{destination.name}” saved.")
        return self._back("#destinations")

    def _destination_delete(self, request) -> HttpResponse:
        destination = self._destination(request)
        destination_delete(principal=self.principal, destination=destination)
        messages.success(request, f"Destination “{destination.name}” and its rules removed.")
        return self._back("#destinations")

    def _destination_test(self, request) -> HttpResponse:
        try:
            destination = self._destination(request)
        except NotFound as exc:
            if not request.htmx:
                raise
            return self._test_result(request, ok=False, code=exc.code)
        outcome = destination_test(principal=self.principal, destination=destination)
        if request.htmx:
            return self._test_result(request, ok=outcome.ok, code=outcome.code)
        if outcome.ok:
            messages.success(request, f"Test message to “{destination.name}”: Sent")
        else:
            messages.error(request, f"Test message to “{destination.name}”: {outcome.code}")
        return self._back("#destinations")

    def _test_result(self, request, *, ok: bool, code: str) -> HttpResponse:
        context = {"ok": ok, "code": code}
        return render(request, "portal/integrations_test_result.html", context)

    def _rule_add(self, request) -> HttpResponse:
        data = rule_create_clean(_rule_fields(request.POST))
        rule_create(principal=self.principal, project=self.project, data=data)
        messages.success(request, "Rule added.")
        return self._back("#rules")

    def _rule_edit(self, request) -> HttpResponse:
        rule = self._rule(request)
        data = rule_update_clean(
            _rule_fields(request.POST), event=rule.event, condition=rule.condition
        )
        rule_update(principal=self.principal, rule=rule, data=data)
        messages.success(request, "Rule saved.")
        return self._back("#rules")

    def _rule_delete(self, request) -> HttpResponse:
        rule_delete(principal=self.principal, rule=self._rule(request))
        messages.success(request, "Rule removed.")
        return self._back("#rules")

    HANDLERS: dict[str, Callable[[IntegrationsView, Any], HttpResponse]] = {
        "comparison": _comparison,
        "destination_add": _destination_add,
        "destination_edit": _destination_edit,
        "destination_delete": _destination_delete,
        "destination_test": _destination_test,
        "rule_add": _rule_add,
        "rule_edit": _rule_edit,
        "rule_delete": _rule_delete,
    }
