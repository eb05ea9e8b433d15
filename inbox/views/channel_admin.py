"""Channels (administrators). Placeholder until built."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from inbox.views import administrator_required


@require_GET
@administrator_required
def channel_admin(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Channels", content_type="text/plain")


urlpatterns = [
    path("administration/channels/", channel_admin, name="channel_admin"),
]
