"""Data subject requests (administrators). Placeholder until built."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from inbox.views import administrator_required


@require_GET
@administrator_required
def data_subject_requests(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Data subject requests", content_type="text/plain")


urlpatterns = [
    path("administration/data-subject-requests/", data_subject_requests, name="data_subject_requests"),
]
