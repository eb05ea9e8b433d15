"""The administrators' section (`/administration/`): one page that leads to channels,
staff accounts, retention, data subject requests, archive exports and the audit log, each
of which lives in its own module and lists its own URL patterns."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from inbox.views import administrator_required


@require_GET
@administrator_required
def administration(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/administration.html")


urlpatterns = [
    path("administration/", administration, name="administration"),
]
