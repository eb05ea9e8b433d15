"""Archive exports (administrators): the list of exports, a form to make one (written by
the worker, task `inbox.archive_export`), and each export's files as one ZIP.
docs/archive-format.md describes the files."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods

from inbox import archive, services
from inbox.archive_forms import ArchiveExportForm
from inbox.models import ArchiveExport
from inbox.services import ServiceError
from inbox.views import administrator_required

# The page lists this many most recent exports.
EXPORTS_SHOWN = 50


def _exports() -> list[ArchiveExport]:
    return list(
        ArchiveExport.objects.select_related("created_by").order_by("-created_at", "-id")[
            :EXPORTS_SHOWN
        ]
    )


@require_http_methods(["GET", "POST"])
@administrator_required
def archive_exports(request: HttpRequest) -> HttpResponse:
    form = ArchiveExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.archive_export_request(
                actor=request.user,  # type: ignore[arg-type]
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            return redirect("inbox:archive_exports")
    exports = _exports()
    context = {
        "form": form,
        "exports": exports,
        "any_running": any(e.status == ArchiveExport.Status.RUNNING for e in exports),
    }
    if request.htmx and request.method == "GET":  # type: ignore[attr-defined]
        return render(request, "inbox/_archive_rows.html", context)
    return render(
        request, "inbox/archive_exports.html", context, status=400 if form.errors else 200
    )


def archive_zip_name(export: ArchiveExport) -> str:
    return f"webcare-archive-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}"


def archive_zip_response(export: ArchiveExport) -> StreamingHttpResponse:
    name = archive_zip_name(export)
    response = StreamingHttpResponse(
        archive.archive_zip_stream(Path(export.location), folder=name),
        content_type="application/zip",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    return response


@require_GET
@administrator_required
def archive_export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(ArchiveExport, pk=export_id)
    try:
        services.archive_export_record_download(actor=request.user, export_id=export.pk)  # type: ignore[arg-type]
    except ServiceError as error:
        return HttpResponse(str(error), status=404, content_type="text/plain; charset=utf-8")
    # StreamingHttpResponse is no HttpResponse subclass; Django serves either.
    return archive_zip_response(export)  # type: ignore[return-value]


urlpatterns = [
    path("administration/archive/", archive_exports, name="archive_exports"),
    path(
        "administration/archive/<int:export_id>/download/",
        archive_export_download,
        name="archive_export_download",
    ),
]
