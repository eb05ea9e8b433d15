"""Audit log (administrators). Placeholder until built."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from inbox.views import administrator_required


@require_GET
@administrator_required
def audit_log(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Audit log", content_type="text/plain")


urlpatterns = [
    path("administration/audit/", audit_log, name="audit_log"),
]
