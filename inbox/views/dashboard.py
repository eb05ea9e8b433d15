"""The team lead's dashboard (docs/metrics.md defines its figures)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from channels.selectors import channels_with_health
from inbox import selectors
from inbox.views import team_lead_required


@require_GET
@team_lead_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "metrics": selectors.dashboard_metrics(now=timezone.now()),
        "channels": channels_with_health(),
        "days": 7,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_dashboard_tables.html", context)
    return render(request, "inbox/dashboard.html", context)


urlpatterns = [
    path("dashboard/", dashboard, name="dashboard"),
]
