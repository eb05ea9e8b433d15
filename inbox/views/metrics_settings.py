"""The dashboard's settings, for team leads: each team's opening hours and closed days
(/teams/<id>/opening-hours/) and the service norms (/dashboard/norms/). Every form posts and
comes back with a message, so all of it works without JavaScript. The services decide
(inbox/services/schedules.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from inbox import services
from inbox.metrics.norms import WORKING_DAY_MINUTES, norm_promise
from inbox.metrics.working_time import (
    AMSTERDAM,
    minute_label,
    public_holidays_from,
    team_schedule_settings,
)
from inbox.metrics_forms import WEEKDAYS, ClosedDayForm, OpeningHoursForm, ServiceNormForm
from inbox.models import ServiceNorm, Team
from inbox.views import _staff_user, team_lead_required


def _team_or_404(team_id: int) -> Team:
    team = Team.objects.filter(pk=team_id).only("id", "name").first()
    if team is None:
        raise Http404(_("This team does not exist."))
    return team


def _opening_hours_page(
    request: HttpRequest,
    team: Team,
    *,
    form: OpeningHoursForm | None = None,
    closed_day_form: ClosedDayForm | None = None,
    status: int = 200,
) -> HttpResponse:
    settings = team_schedule_settings(team.pk)
    calendar = settings.calendar
    if form is None:
        form = OpeningHoursForm(
            periods=calendar.periods,
            observes_public_holidays=calendar.observes_public_holidays,
        )
    today = timezone.now().astimezone(AMSTERDAM).date()
    week = [
        {
            "name": WEEKDAYS[weekday],
            "periods": [
                f"{minute_label(opens)}–{minute_label(closes)}"
                for day, opens, closes in calendar.periods
                if day == weekday
            ],
        }
        for weekday in range(7)
    ]
    context: dict[str, Any] = {
        "team": team,
        "form": form,
        "rows": form.rows(),
        "closed_day_form": closed_day_form or ClosedDayForm(),
        "has_own_schedule": settings.has_own_schedule,
        "observes_public_holidays": calendar.observes_public_holidays,
        "week": week,
        "weekly_hours": calendar.weekly_open_seconds() // 3600,
        "weekly_minutes": calendar.weekly_open_seconds() % 3600 // 60,
        "closed_days": [
            {"id": closed_id, "date": day, "name": name, "is_past": day < today}
            for closed_id, day, name in settings.closed_days
        ],
        "public_holidays": public_holidays_from(today),
    }
    return render(request, "inbox/opening_hours.html", context, status=status)


@require_http_methods(["GET", "POST"])
@team_lead_required
def opening_hours(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    if request.method == "GET":
        return _opening_hours_page(request, team)
    form = OpeningHoursForm(request.POST)
    if form.is_valid():
        try:
            services.team_opening_hours_set(
                actor=_staff_user(request),
                team_id=team.pk,
                periods=form.cleaned_data["periods"],
                observes_public_holidays=form.cleaned_data["observes_public_holidays"],
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(
                request,
                _(
                    "The opening hours are saved. "
                    "Figures are being recalculated with the new hours."
                ),
            )
            return redirect("inbox:opening_hours", team_id=team.pk)
    return _opening_hours_page(request, team, form=form, status=422)


@require_POST
@team_lead_required
def closed_day_add(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    form = ClosedDayForm(request.POST)
    if form.is_valid():
        try:
            services.team_closed_day_add(
                actor=_staff_user(request),
                team_id=team.pk,
                day=form.cleaned_data["date"],
                name=form.cleaned_data["name"],
            )
        except services.ServiceError as error:
            form.add_error("date", str(error))
        else:
            flash.success(
                request,
                _("The closed day is added. Figures are being recalculated with the new hours."),
            )
            return redirect("inbox:opening_hours", team_id=team.pk)
    return _opening_hours_page(request, team, closed_day_form=form, status=422)


@require_POST
@team_lead_required
def closed_day_remove(request: HttpRequest, team_id: int, closed_day_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    try:
        services.team_closed_day_remove(
            actor=_staff_user(request), team_id=team.pk, closed_day_id=closed_day_id
        )
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(
            request,
            _("The closed day is removed. Figures are being recalculated with the new hours."),
        )
    return redirect("inbox:opening_hours", team_id=team.pk)


# --- service norms ----------------------------------------------------------------------


def _norm_rows() -> list[dict[str, Any]]:
    norms = list(ServiceNorm.objects.select_related("channel").order_by("position", "id"))
    return [
        {
            "norm": norm,
            "promise": norm_promise(
                metric=norm.metric,
                target_minutes=norm.target_minutes,
                clock=norm.clock,
                visibility=norm.visibility,
                channel_name=norm.channel.name if norm.channel else None,
                priority=norm.priority,
            ),
            "is_first": index == 0,
            "is_last": index == len(norms) - 1,
        }
        for index, norm in enumerate(norms)
    ]


@require_http_methods(["GET"])
@team_lead_required
def service_norms(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/service_norms.html", {"rows": _norm_rows()})


def _norm_form_page(
    request: HttpRequest, form: ServiceNormForm, norm: ServiceNorm | None, status: int
) -> HttpResponse:
    return render(
        request,
        "inbox/service_norm_form.html",
        {"form": form, "norm": norm, "working_day_minutes": WORKING_DAY_MINUTES},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@team_lead_required
def service_norm_create(request: HttpRequest) -> HttpResponse:
    form = ServiceNormForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_norm_create(actor=_staff_user(request), **form.service_arguments())
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("The service norm is saved."))
            return redirect("inbox:service_norms")
    return _norm_form_page(request, form, None, 422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@team_lead_required
def service_norm_edit(request: HttpRequest, service_norm_id: int) -> HttpResponse:
    norm = ServiceNorm.objects.filter(pk=service_norm_id).first()
    if norm is None:
        raise Http404(_("This service norm does not exist (any more)."))
    form = ServiceNormForm(request.POST or None, initial=ServiceNormForm.initial_for(norm))
    if request.method == "POST" and form.is_valid():
        try:
            services.service_norm_update(
                actor=_staff_user(request), service_norm_id=norm.pk, **form.service_arguments()
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("The service norm is saved."))
            return redirect("inbox:service_norms")
    return _norm_form_page(request, form, norm, 422 if request.method == "POST" else 200)


@require_POST
@team_lead_required
def service_norm_delete(request: HttpRequest, service_norm_id: int) -> HttpResponse:
    try:
        services.service_norm_delete(actor=_staff_user(request), service_norm_id=service_norm_id)
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The service norm is deleted."))
    return redirect("inbox:service_norms")


@require_POST
@team_lead_required
def service_norm_move(request: HttpRequest, service_norm_id: int) -> HttpResponse:
    try:
        services.service_norm_move(
            actor=_staff_user(request),
            service_norm_id=service_norm_id,
            direction=request.POST.get("direction", ""),
        )
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The order of the service norms is saved."))
    return redirect("inbox:service_norms")


urlpatterns: list[URLPattern] = [
    path("teams/<int:team_id>/opening-hours/", opening_hours, name="opening_hours"),
    path(
        "teams/<int:team_id>/opening-hours/closed-days/",
        closed_day_add,
        name="closed_day_add",
    ),
    path(
        "teams/<int:team_id>/opening-hours/closed-days/<int:closed_day_id>/remove/",
        closed_day_remove,
        name="closed_day_remove",
    ),
    path("dashboard/norms/", service_norms, name="service_norms"),
    path("dashboard/norms/new/", service_norm_create, name="service_norm_create"),
    path("dashboard/norms/<int:service_norm_id>/", service_norm_edit, name="service_norm_edit"),
    path(
        "dashboard/norms/<int:service_norm_id>/delete/",
        service_norm_delete,
        name="service_norm_delete",
    ),
    path(
        "dashboard/norms/<int:service_norm_id>/move/",
        service_norm_move,
        name="service_norm_move",
    ),
]
