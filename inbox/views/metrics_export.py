"""STUB (issue 6): CSV/XLSX export of the dashboard's tables."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def metrics_export(request: HttpRequest, slug: str, file_format: str) -> HttpResponse:
    raise NotImplementedError


urlpatterns = [
    path(
        "dashboard/export/<slug:slug>.<str:file_format>",
        metrics_export,
        name="metrics_export",
    ),
]
