"""The agent's own settings page and the accessibility statement."""

from __future__ import annotations

import datetime
from typing import cast

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from inbox import selectors, services
from inbox.models import AgentProfile
from inbox.preferences_forms import PreferencesForm
from inbox.views import staff_required
from webcare.middleware import staff_language_remember

# When the accessibility statement was last reviewed against what the tests check; change
# it with the statement's text (docs/architecture.md, "Look and settings").
ACCESSIBILITY_STATEMENT_DATE = datetime.date(2026, 11, 29)


@require_http_methods(["GET", "POST"])
@staff_required
def settings_page(request: HttpRequest) -> HttpResponse:
    profile: AgentProfile = request.agent_profile  # type: ignore[attr-defined]
    user = cast(User, request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                services.agent_update_preferences(actor=user, **form.cleaned_data)
            except services.ServiceError as error:
                form.add_error("language", str(error))
            else:
                staff_language_remember(
                    request, user_id=user.pk, language=form.cleaned_data["language"]
                )
                # Said in the language just chosen: the next page speaks it.
                with translation.override(form.cleaned_data["language"] or None):
                    flash.success(request, _("Your settings are saved."))
                return redirect("inbox:settings")
        status = 422
    else:
        form = PreferencesForm(
            initial={
                # Never chosen yet: the language the screen speaks now.
                "language": profile.language or get_language(),
                "notify_on_assignment": profile.notify_on_assignment,
                "notify_on_mention": profile.notify_on_mention,
                "notify_sound": profile.notify_sound,
                "notify_desktop": profile.notify_desktop,
            }
        )
        status = 200
    return render(request, "inbox/settings.html", {"form": form}, status=status)


def _contact_link(contact: str) -> str:
    """A mailto: or web link for the configured contact, or "" for plain text."""
    try:
        EmailValidator()(contact)
    except ValidationError:
        pass
    else:
        return f"mailto:{contact}"
    try:
        URLValidator(schemes=["https"])(contact)
    except ValidationError:
        return ""
    return contact


@require_GET
def accessibility_statement(request: HttpRequest) -> HttpResponse:
    """Public: citizens and colleagues without an account may want to read it."""
    if request.user.is_authenticated:
        # The header shows a staff member's tools here as on every other page.
        request.agent_profile = selectors.agent_profile_for(request.user)  # type: ignore[attr-defined]
    contact = getattr(settings, "WEBCARE_ACCESSIBILITY_CONTACT", "").strip()
    context = {
        "municipality": settings.WEBCARE_MUNICIPALITY_NAME,
        "contact": contact,
        "contact_link": _contact_link(contact) if contact else "",
        "statement_date": ACCESSIBILITY_STATEMENT_DATE,
    }
    return render(request, "pages/accessibility.html", context)


urlpatterns: list[URLPattern] = [
    path("settings/", settings_page, name="settings"),
    path("toegankelijkheid/", accessibility_statement, name="accessibility"),
    # The same page for those who look for it in English.
    path("accessibility/", accessibility_statement, name="accessibility_en"),
]
