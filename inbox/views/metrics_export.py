"""A dashboard table as a CSV or XLSX download (inbox/metrics/export.py has the formats;
docs/metrics.md, "Export and API")."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from inbox.metrics import export
from inbox.metrics.tables import InvalidMetricsQuery, metrics_query_from_params
from inbox.views import team_lead_required


@require_GET
@team_lead_required
def metrics_export(request: HttpRequest, slug: str, file_format: str) -> HttpResponse:
    if file_format not in export.FORMATS or slug not in export.metrics_tables_load():
        raise Http404(_("There is no such export."))
    try:
        query = metrics_query_from_params(request.GET)
    except InvalidMetricsQuery as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    table = export.metrics_table_build(slug, query)
    content = export.table_export(table, query, file_format)
    export.metrics_export_record(
        actor=request.user,  # type: ignore[arg-type]
        slug=slug,
        file_format=file_format,
        query=query,
    )
    response = HttpResponse(content, content_type=export.CONTENT_TYPES[file_format])
    filename = export.export_filename(slug, query, file_format)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Figures of the team's work: not for shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path(
        "dashboard/export/<slug:slug>.<str:file_format>",
        metrics_export,
        name="metrics_export",
    ),
]
