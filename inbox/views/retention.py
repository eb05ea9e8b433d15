"""Retention (administrators). Placeholder until built."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from inbox.views import administrator_required


@require_GET
@administrator_required
def retention(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Retention", content_type="text/plain")


urlpatterns = [
    path("administration/retention/", retention, name="retention"),
]
