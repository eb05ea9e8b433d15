"""Template context every page needs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from inbox.models import AgentProfile


def presence(request: HttpRequest) -> dict[str, Any]:
    """The presence choices of the header's presence switch."""
    return {"presence_choices": AgentProfile.Presence.choices}


def theme(request: HttpRequest) -> dict[str, Any]:
    """The design-tokens stylesheet and its class (settings WEBCARE_THEME_*)."""
    from django.conf import settings

    return {
        "theme_stylesheet": settings.WEBCARE_THEME_STYLESHEET,
        "theme_class": settings.WEBCARE_THEME_CLASS,
    }
