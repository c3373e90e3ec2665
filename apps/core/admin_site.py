"""The Django admin's site, signing in through the portal's sign-in throttle.

``KirokuAdminConfig`` replaces ``django.contrib.admin`` in ``INSTALLED_APPS`` so that
``admin.site`` is a ``KirokuAdminSite``. Its sign-in form counts each attempt as the
portal's does (``login_attempt_wait``: the ``login`` rate per address and username,
and ``anon`` per address); an attempt over a limit is not tried, even with the right
password, and is answered 429 with ``Retry-After`` and the wait on the form.

config/urls.py mounts the admin outside production only (nothing of Kiroku's is
registered in it, and its writes would bypass the services and the audit log).

Loaded while Django populates its apps: nothing here imports models at module level.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse


class KirokuAdminConfig(AdminConfig):
    default_site = "apps.core.admin_site.KirokuAdminSite"


class KirokuAdminSite(AdminSite):
    def __init__(self, name: str = "admin"):
        super().__init__(name)
        # Imported here: the admin's forms import the user model, and the default site
        # is built only once the apps are ready.
        from apps.core.admin_forms import ThrottledAdminAuthenticationForm

        self.login_form = ThrottledAdminAuthenticationForm

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Django's admin sign-in, each attempt counted first (see the module); a
        refused one is the form with the wait, 429 with ``Retry-After``."""
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        wait = getattr(form, "retry_after", None)
        if isinstance(response, HttpResponse) and wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response
