"""The audit log for administrators (`/administration/audit/`): every change and every
sensitive read, newest first, filterable, exportable as CSV (docs/architecture.md,
"Administration"). Reading the log on screen is not itself logged; exporting it is."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from channels.models import Channel
from inbox.administration_forms import AuditFilterForm
from inbox.metrics.export import neutralise_formula
from inbox.selectors import audit as audit_selectors
from inbox.services.sensitive_reads import audit_log_export_record
from inbox.views import _staff_user, administrator_required


def _filter_form(request: HttpRequest) -> AuditFilterForm:
    return AuditFilterForm(
        request.GET,
        actors=audit_selectors.audit_actor_choices(),
        channels=list(Channel.objects.only("id", "name").order_by("name")),
    )


def _before(request: HttpRequest) -> int | None:
    value = request.GET.get("before", "")
    return int(value) if value.isdigit() else None


@require_GET
@administrator_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    page = None
    if form.is_valid():
        page = audit_selectors.audit_events_page(form.filters(), before=_before(request))
    query_without_before = request.GET.copy()
    query_without_before.pop("before", None)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "rows": [
            {
                "event": event,
                "label": audit_selectors.action_label(event.action),
                "data": audit_selectors.data_items(event.data),
            }
            for event in (page.events if page else [])
        ],
        "query_without_before": query_without_before.urlencode(),
        "is_first_page": _before(request) is None,
    }
    return render(request, "inbox/audit_log.html", context, status=200 if page else 422)


class _Echo:
    """A file-like object for csv.writer that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "id",
    "time",
    "actor_id",
    "actor",
    "action",
    "conversation_id",
    "message_id",
    "channel_id",
    "data",
]


def _csv_lines(events: Iterator[Any]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events:
        data = "; ".join(f"{key}: {value}" for key, value in audit_selectors.data_items(event.data))
        yield writer.writerow(
            [
                event.id,
                timezone.localtime(event.created_at).isoformat(),
                event.actor_id or "",
                neutralise_formula(event.actor.username) if event.actor else "system",
                neutralise_formula(event.action),
                event.conversation_id or "",
                event.message_id or "",
                event.channel_id or "",
                neutralise_formula(data),
            ]
        )


@require_GET
@administrator_required
def audit_log_export(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid():
        return render(
            request,
            "inbox/audit_log.html",
            {"form": form, "page": None, "rows": [], "is_first_page": True},
            status=422,
        )
    filters = form.filters()
    audit_log_export_record(actor=_staff_user(request), filters=filters)
    response = StreamingHttpResponse(
        _csv_lines(audit_selectors.audit_events_for_export(filters)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="webcare-audit-log-{stamp}.csv"'
    # The view decorators are typed for HttpResponse; Django serves a streaming one alike.
    return cast(HttpResponse, response)


urlpatterns = [
    path("administration/audit/", audit_log, name="audit_log"),
    path("administration/audit/export.csv", audit_log_export, name="audit_log_export"),
]
