"""The Django admin's sign-in form, throttled like the portal's (apps.core.admin_site)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from apps.core.throttles import login_attempt_wait


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """Counts the attempt (``login_attempt_wait``) before the password is checked. Over
    a limit the password is not tried, the form is invalid with the wait as its error,
    and ``retry_after`` holds the seconds to wait (None otherwise)."""

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        refused = login_attempt_wait(self.request, str(self.data.get("username", "")))
        if refused is not None:
            self.retry_after, message = refused
            raise ValidationError(message, code="throttled")
        return super().clean()
