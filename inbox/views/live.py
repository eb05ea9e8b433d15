"""Live updates: the cheap "anything new since X" check the browser polls."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path


def live_changes(request: HttpRequest) -> HttpResponse:
    """Placeholder until the live slice lands: nothing ever changed."""
    return HttpResponse(status=204)


urlpatterns: list[URLPattern] = [path("live/changes/", live_changes, name="live_changes")]
