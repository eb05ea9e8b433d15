"""Template context every page needs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from inbox.models import AgentProfile


def presence(request: HttpRequest) -> dict[str, Any]:
    """The presence choices of the header's presence switch."""
    return {"presence_choices": AgentProfile.Presence.choices}
