"""Data subject requests (administrators): the register, finding the citizen's contacts,
the access export and erasure (docs/architecture.md, "Data subject requests")."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages as flash
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import services
from inbox.data_subject_forms import DataSubjectRequestForm, ErasureForm, RejectForm, SearchForm
from inbox.models import DataSubjectRequest
from inbox.selectors import data_subjects as selectors
from inbox.views import administrator_required


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _row_or_404(request_id: int) -> selectors.RequestRow:
    try:
        return selectors.data_subject_request_row(request_id)
    except DataSubjectRequest.DoesNotExist as error:
        raise Http404(_("This request does not exist.")) from error


@require_http_methods(["GET", "POST"])
@administrator_required
def data_subject_requests(request: HttpRequest) -> HttpResponse:
    form = DataSubjectRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.data_subject_request_create(
                actor=_actor(request), **form.cleaned_data
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("The request is registered. Now find the citizen's contacts."))
            return redirect("inbox:data_subject_request", created.id)
    context = {"rows": selectors.data_subject_requests_list(), "form": form}
    status = 422 if request.method == "POST" else 200
    return render(request, "inbox/data_subject_requests.html", context, status=status)


@require_GET
@administrator_required
def data_subject_request(request: HttpRequest, request_id: int) -> HttpResponse:
    """The request: who the citizen is, their contacts (search and selection) and what can
    be done with it. A search is audited (services.data_subject_search)."""
    row = _row_or_404(request_id)
    is_open = row.request.status == DataSubjectRequest.Status.OPEN
    search_form = SearchForm(request.GET if "q" in request.GET else None)
    found = None
    if is_open and search_form.is_valid():
        found = services.data_subject_search(
            actor=_actor(request), request_id=row.request.id, query=search_form.cleaned_data["q"]
        )
    selected = selectors.contacts_with_activity(row.request.contact_ids)
    selected_ids = {contact.id for contact in selected}
    context: dict[str, Any] = {
        "row": row,
        "dsr": row.request,
        "is_open": is_open,
        "search_form": search_form,
        "found": found,
        # Found contacts that are selected already are listed once, under "selected".
        "matches": [c for c in found.matches if c.id not in selected_ids] if found else [],
        "linked": [c for c in found.linked if c.id not in selected_ids] if found else [],
        "selected": selected,
        "reject_form": RejectForm(),
    }
    return render(request, "inbox/data_subject_request.html", context)


@require_POST
@administrator_required
def data_subject_contacts(request: HttpRequest, request_id: int) -> HttpResponse:
    row = _row_or_404(request_id)
    contact_ids = [int(value) for value in request.POST.getlist("contact") if value.isdigit()]
    try:
        services.data_subject_contacts_select(
            actor=_actor(request), request_id=row.request.id, contact_ids=contact_ids
        )
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The selection of contacts is saved."))
    return redirect("inbox:data_subject_request", row.request.id)


@require_GET
@administrator_required
def data_subject_export(request: HttpRequest, request_id: int) -> HttpResponse:
    """Everything about the selected contacts as one JSON file, streamed."""
    row = _row_or_404(request_id)
    try:
        dsr = services.data_subject_export_start(actor=_actor(request), request_id=row.request.id)
    except services.ServiceError as error:
        flash.error(request, str(error))
        return redirect("inbox:data_subject_request", row.request.id)
    response = StreamingHttpResponse(
        selectors.data_subject_export_stream(dsr), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="data-subject-request-{dsr.id}.json"'
    # A citizen's personal data: never in a shared cache.
    response["Cache-Control"] = "private, no-store"
    # The access decorators type views as returning HttpResponse; a streamed one is fine.
    return response  # type: ignore[return-value]


@require_POST
@administrator_required
def data_subject_complete(request: HttpRequest, request_id: int) -> HttpResponse:
    row = _row_or_404(request_id)
    try:
        services.data_subject_access_complete(actor=_actor(request), request_id=row.request.id)
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The request is completed."))
    return redirect("inbox:data_subject_request", row.request.id)


@require_http_methods(["GET", "POST"])
@administrator_required
def data_subject_erase(request: HttpRequest, request_id: int) -> HttpResponse:
    """Confirmation of an erasure: what goes, how, and the unresolved conversations."""
    row = _row_or_404(request_id)
    dsr = row.request
    if (
        dsr.kind != DataSubjectRequest.Kind.ERASURE
        or dsr.status != DataSubjectRequest.Status.OPEN
        or not dsr.contact_ids
    ):
        flash.error(request, _("Choose the citizen's contacts of an open erasure request first."))
        return redirect("inbox:data_subject_request", dsr.id)
    preview = selectors.erasure_preview(dsr.contact_ids)
    form = ErasureForm(request.POST or None)
    if not preview.unresolved:
        # Only asked when there is an ongoing case to confirm.
        del form.fields["confirmed_unresolved"]
    if request.method == "POST" and form.is_valid():
        try:
            services.data_subject_erase(
                actor=_actor(request),
                request_id=dsr.id,
                method=form.cleaned_data["method"],
                confirmed_unresolved=form.cleaned_data.get("confirmed_unresolved", False),
            )
        except services.ServiceError as error:
            form.add_error("confirmed_unresolved", str(error))
        else:
            flash.success(request, _("The citizen's data is erased and the request completed."))
            return redirect("inbox:data_subject_request", dsr.id)
    context = {
        "row": row,
        "dsr": dsr,
        "form": form,
        "preview": preview,
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "inbox/data_subject_erase.html", context, status=status)


@require_POST
@administrator_required
def data_subject_reject(request: HttpRequest, request_id: int) -> HttpResponse:
    row = _row_or_404(request_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        flash.error(request, _("Give the reason for rejecting the request."))
        return redirect("inbox:data_subject_request", row.request.id)
    try:
        services.data_subject_request_reject(
            actor=_actor(request), request_id=row.request.id, reason=form.cleaned_data["reason"]
        )
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The request is rejected."))
    return redirect("inbox:data_subject_request", row.request.id)


_BASE = "administration/data-subject-requests/"

urlpatterns = [
    path(_BASE, data_subject_requests, name="data_subject_requests"),
    path(f"{_BASE}<int:request_id>/", data_subject_request, name="data_subject_request"),
    path(f"{_BASE}<int:request_id>/contacts/", data_subject_contacts, name="data_subject_contacts"),
    path(f"{_BASE}<int:request_id>/export/", data_subject_export, name="data_subject_export"),
    path(f"{_BASE}<int:request_id>/complete/", data_subject_complete, name="data_subject_complete"),
    path(f"{_BASE}<int:request_id>/erase/", data_subject_erase, name="data_subject_erase"),
    path(f"{_BASE}<int:request_id>/reject/", data_subject_reject, name="data_subject_reject"),
]
