"""Password reset by email in the portal: Django's views, our templates, and the
throttles of apps.core.throttles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy

from apps.core.throttles import password_reset_email_allowed, password_reset_wait
from apps.portal.views.base import ANYONE


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an email; the answer is the same page whether or not it has an account
    (Django sends mail only to active accounts with a usable password).

    Throttled (apps.core.throttles): requests per client address over
    ``password_reset`` are answered 429 with the form and the wait; an email address
    asked for more than ``password_reset_email`` allows gets the same "check your
    email" page as any other, and no email. That refusal is silent because the page
    must read the same for every address: a 429 there would tell a stranger that
    someone asked for this address recently, and the person it protects already has
    the emails sent before it."""

    access = ANYONE
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-sent")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = password_reset_wait(request)
        if refused is None:
            return super().post(request, *args, **kwargs)
        wait, message = refused
        messages.error(request, message)
        form = self.get_form_class()(initial={"email": request.POST.get("email", "")[:254]})
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        if not password_reset_email_allowed(form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        # Read here, per request, not once at import.
        self.extra_email_context = {"base_url": settings.KIROKU_BASE_URL}
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    access = ANYONE
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    access = ANYONE
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    access = ANYONE
    template_name = "registration/password_reset_complete.html"
