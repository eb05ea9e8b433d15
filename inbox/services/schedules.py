"""Team opening hours, closed days and service norms: what the working-time clock counts and
what the dashboard measures against (docs/metrics.md, "Working time" and "Service norms").

Each change is one transaction with its audit event. A change of a team's hours or closed
days marks every conversation of that team for the metrics refresh (services/metrics.py) in
the same transaction, so their working-time figures are recomputed with the new hours. A
change of a service norm marks nothing: met or breached is decided when the dashboard reads
(inbox/metrics/norms.py), so the next page load already uses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from itertools import pairwise
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from channels.models import Channel
from inbox.metrics.working_time import DEFAULT_PERIODS, WEEKDAYS, minute_label
from inbox.models import ClosedDay, OpeningPeriod, ServiceNorm, Team, TeamSchedule
from inbox.services.assignment import team_lead_or_denied
from inbox.services.common import ServiceError, audit

__all__ = [
    "MAX_TARGET_MINUTES",
    "opening_period_problems",
    "service_norm_create",
    "service_norm_delete",
    "service_norm_move",
    "service_norm_update",
    "team_closed_day_add",
    "team_closed_day_remove",
    "team_opening_hours_set",
]

Period = tuple[int, int, int]

# Sixty working days: longer is not a promise anyone keeps track of.
MAX_TARGET_MINUTES = 60 * 510

# Position step for norms, so that one can be put between two others by hand (admin).
_POSITION_STEP = 10

_MARK_TEAM_CONVERSATIONS = (
    "INSERT INTO inbox_metricsdirtyconversation (conversation_id, created_at)"
    " SELECT id, now() FROM inbox_conversation WHERE team_id = %s"
)


def _weekday_name(weekday: int) -> str:
    return str(WEEKDAYS[weekday])


def _span(opens: int, closes: int) -> str:
    return f"{minute_label(opens)}-{minute_label(closes)}"


def opening_period_problems(periods: Iterable[Period]) -> list[str]:
    """What is wrong with a week of opening periods, one sentence each (empty when fine).
    Periods that touch (12:00-13:00 and 13:00-17:00) are fine; overlapping ones are not."""
    problems: list[str] = []
    by_weekday: dict[int, list[tuple[int, int]]] = {}
    for weekday, opens, closes in periods:
        if not 0 <= weekday <= 6:
            problems.append(_("A weekday must be Monday to Sunday."))
            continue
        if not (0 <= opens <= 1440 and 0 <= closes <= 1440):
            problems.append(
                _("%(day)s: times must lie between 00:00 and 24:00.")
                % {"day": _weekday_name(weekday)}
            )
            continue
        if opens >= closes:
            problems.append(
                _(
                    "%(day)s: %(span)s closes before it opens. A shift past midnight is two "
                    "periods: until 24:00, and from 00:00 the next day."
                )
                % {"day": _weekday_name(weekday), "span": _span(opens, closes)}
            )
            continue
        by_weekday.setdefault(weekday, []).append((opens, closes))
    for weekday in sorted(by_weekday):
        day_periods = sorted(by_weekday[weekday])
        for (opens, closes), (next_opens, next_closes) in pairwise(day_periods):
            if next_opens < closes:
                problems.append(
                    _("%(day)s: %(first)s and %(second)s overlap.")
                    % {
                        "day": _weekday_name(weekday),
                        "first": _span(opens, closes),
                        "second": _span(next_opens, next_closes),
                    }
                )
    return problems


def _team_or_error(team_id: int) -> Team:
    try:
        return Team.objects.get(pk=team_id)
    except Team.DoesNotExist as error:
        raise ServiceError(_("This team does not exist.")) from error


def _schedule_locked(team_id: int) -> tuple[TeamSchedule, bool]:
    """The team's schedule, created with the default hours on first use, locked for the rest
    of the transaction so that two team leads saving at once take turns."""
    try:
        with transaction.atomic():
            schedule, created = TeamSchedule.objects.get_or_create(team_id=team_id)
    except IntegrityError:  # another team lead created it just now: use theirs
        schedule, created = TeamSchedule.objects.get(team_id=team_id), False
    if created:
        OpeningPeriod.objects.bulk_create(
            OpeningPeriod(schedule=schedule, weekday=w, opens_minute=o, closes_minute=c)
            for w, o, c in DEFAULT_PERIODS
        )
    else:
        schedule = TeamSchedule.objects.select_for_update().get(pk=schedule.pk)
    return schedule, created


def _mark_team_conversations(team_id: int) -> None:
    # One set-based statement however many conversations: the refresh task rebuilds their
    # working-time figures with the new hours within seconds.
    with connection.cursor() as cursor:
        cursor.execute(_MARK_TEAM_CONVERSATIONS, [team_id])


def _as_lists(periods: Iterable[Period]) -> list[list[int]]:
    return [list(period) for period in sorted(periods)]


@transaction.atomic
def team_opening_hours_set(
    *, actor: User, team_id: int, periods: Iterable[Period], observes_public_holidays: bool
) -> TeamSchedule:
    """Replace the team's weekly opening periods and its public-holiday setting."""
    team_lead_or_denied(actor, _("Only team leads can change opening hours."))
    team = _team_or_error(team_id)
    new_periods = sorted(set(periods))
    problems = opening_period_problems(new_periods)
    if problems:
        raise ServiceError(" ".join(problems))
    schedule, _created = _schedule_locked(team.pk)
    previous_periods = list(
        schedule.periods.order_by("weekday", "opens_minute").values_list(
            "weekday", "opens_minute", "closes_minute"
        )
    )
    previous_observes = schedule.observes_public_holidays
    schedule.periods.all().delete()
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(schedule=schedule, weekday=w, opens_minute=o, closes_minute=c)
        for w, o, c in new_periods
    )
    schedule.observes_public_holidays = observes_public_holidays
    schedule.updated_by = actor
    schedule.save(update_fields=["observes_public_holidays", "updated_by", "updated_at"])
    audit(
        "team.opening_hours_changed",
        actor=actor,
        team_id=team.pk,
        previous_periods=_as_lists(previous_periods),
        periods=_as_lists(new_periods),
        previous_observes_public_holidays=previous_observes,
        observes_public_holidays=observes_public_holidays,
    )
    _mark_team_conversations(team.pk)
    return schedule


@transaction.atomic
def team_closed_day_add(*, actor: User, team_id: int, day: date, name: str = "") -> ClosedDay:
    """Close the team on one more day ("brugdag"), besides the public holidays."""
    team_lead_or_denied(actor, _("Only team leads can change opening hours."))
    team = _team_or_error(team_id)
    schedule, _created = _schedule_locked(team.pk)
    name = " ".join(name.split())[:100]
    if schedule.closed_days.filter(date=day).exists():
        raise ServiceError(_("The team is already closed on this day."))
    try:
        with transaction.atomic():
            closed_day = ClosedDay.objects.create(schedule=schedule, date=day, name=name)
    except IntegrityError as error:  # closedday_unique: the same day added at the same time
        raise ServiceError(_("The team is already closed on this day.")) from error
    audit(
        "team.closed_day_added",
        actor=actor,
        team_id=team.pk,
        closed_day_id=closed_day.pk,
        date=day.isoformat(),
        name=name,
    )
    _mark_team_conversations(team.pk)
    return closed_day


@transaction.atomic
def team_closed_day_remove(*, actor: User, team_id: int, closed_day_id: int) -> None:
    """Open the team again on a day it had closed (the public holidays stay as they are)."""
    team_lead_or_denied(actor, _("Only team leads can change opening hours."))
    team = _team_or_error(team_id)
    closed_day = (
        ClosedDay.objects.select_for_update()
        .filter(pk=closed_day_id, schedule__team_id=team.pk)
        .first()
    )
    if closed_day is None:
        raise ServiceError(_("This closed day does not exist (any more)."))
    closed_day.delete()
    audit(
        "team.closed_day_removed",
        actor=actor,
        team_id=team.pk,
        closed_day_id=closed_day_id,
        date=closed_day.date.isoformat(),
        name=closed_day.name,
    )
    _mark_team_conversations(team.pk)


# --- service norms ----------------------------------------------------------------------


def _norm_values(
    *,
    name: str,
    metric: str,
    channel_id: int | None,
    visibility: str,
    priority: int | None,
    target_minutes: int,
    clock: str,
    is_active: bool,
) -> dict[str, Any]:
    name = " ".join(name.split())
    if not name:
        raise ServiceError(_("Give the norm a name."))
    if metric not in ServiceNorm.Metric.values:
        raise ServiceError(_("Choose what the norm measures."))
    if visibility not in ServiceNorm.Visibility.values:
        raise ServiceError(_("Choose public, private or both."))
    if clock not in ServiceNorm.Clock.values:
        raise ServiceError(_("Choose working time or calendar time."))
    if priority is not None and not 1 <= priority <= 4:
        raise ServiceError(_("Choose a priority from low to urgent, or any priority."))
    if not 1 <= target_minutes <= MAX_TARGET_MINUTES:
        raise ServiceError(_("The target must be at least 1 minute and at most 60 working days."))
    if channel_id is not None and not Channel.objects.filter(pk=channel_id).exists():
        raise ServiceError(_("This channel does not exist."))
    return {
        "name": name[:100],
        "metric": metric,
        "channel_id": channel_id,
        "visibility": visibility,
        "priority": priority,
        "target_minutes": target_minutes,
        "clock": clock,
        "is_active": is_active,
    }


def _norm_audit_data(norm: ServiceNorm) -> dict[str, Any]:
    return {
        "name": norm.name,
        "metric": norm.metric,
        "channel_id": norm.channel_id,
        "visibility": norm.visibility,
        "priority": norm.priority,
        "target_minutes": norm.target_minutes,
        "clock": norm.clock,
        "is_active": norm.is_active,
        "position": norm.position,
    }


@transaction.atomic
def service_norm_create(
    *,
    actor: User,
    name: str,
    metric: str,
    target_minutes: int,
    clock: str = ServiceNorm.Clock.WORKING,
    channel_id: int | None = None,
    visibility: str = ServiceNorm.Visibility.ANY,
    priority: int | None = None,
    is_active: bool = True,
) -> ServiceNorm:
    """A new norm, tried after the existing ones (move it up to try it earlier)."""
    team_lead_or_denied(actor, _("Only team leads can change service norms."))
    values = _norm_values(
        name=name,
        metric=metric,
        channel_id=channel_id,
        visibility=visibility,
        priority=priority,
        target_minutes=target_minutes,
        clock=clock,
        is_active=is_active,
    )
    # Locks the norms so that two creations at once do not take the same last position.
    last = list(ServiceNorm.objects.select_for_update().values_list("position", flat=True))
    position = max(last, default=0) + _POSITION_STEP
    norm = ServiceNorm.objects.create(position=position, **values)
    audit("service_norm.created", actor=actor, service_norm_id=norm.pk, **_norm_audit_data(norm))
    return norm


def _norm_locked(service_norm_id: int) -> ServiceNorm:
    try:
        return ServiceNorm.objects.select_for_update().get(pk=service_norm_id)
    except ServiceNorm.DoesNotExist as error:
        raise ServiceError(_("This service norm does not exist (any more).")) from error


@transaction.atomic
def service_norm_update(
    *,
    actor: User,
    service_norm_id: int,
    name: str,
    metric: str,
    target_minutes: int,
    clock: str,
    channel_id: int | None,
    visibility: str,
    priority: int | None,
    is_active: bool,
) -> ServiceNorm:
    team_lead_or_denied(actor, _("Only team leads can change service norms."))
    norm = _norm_locked(service_norm_id)
    values = _norm_values(
        name=name,
        metric=metric,
        channel_id=channel_id,
        visibility=visibility,
        priority=priority,
        target_minutes=target_minutes,
        clock=clock,
        is_active=is_active,
    )
    previous = _norm_audit_data(norm)
    for field_name, value in values.items():
        setattr(norm, field_name, value)
    norm.save(update_fields=[*values, "updated_at"])
    audit(
        "service_norm.updated",
        actor=actor,
        service_norm_id=norm.pk,
        previous=previous,
        **_norm_audit_data(norm),
    )
    return norm


@transaction.atomic
def service_norm_delete(*, actor: User, service_norm_id: int) -> None:
    team_lead_or_denied(actor, _("Only team leads can change service norms."))
    norm = _norm_locked(service_norm_id)
    data = _norm_audit_data(norm)
    norm.delete()
    audit("service_norm.deleted", actor=actor, service_norm_id=service_norm_id, **data)


@transaction.atomic
def service_norm_move(*, actor: User, service_norm_id: int, direction: str) -> list[int]:
    """Try a norm one place earlier ("up") or later ("down"). Positions are renumbered
    10, 20, 30... in the new order; returns the norm ids in that order."""
    team_lead_or_denied(actor, _("Only team leads can change service norms."))
    if direction not in {"up", "down"}:
        raise ServiceError(_("A norm moves up or down."))
    norms = list(ServiceNorm.objects.select_for_update().order_by("position", "id"))
    previous_order = [norm.pk for norm in norms]
    if service_norm_id not in previous_order:
        raise ServiceError(_("This service norm does not exist (any more)."))
    index = previous_order.index(service_norm_id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(norms):
        norms[index], norms[other] = norms[other], norms[index]
    changed = []
    for number, norm in enumerate(norms, start=1):
        if norm.position != number * _POSITION_STEP:
            norm.position = number * _POSITION_STEP
            changed.append(norm)
    ServiceNorm.objects.bulk_update(changed, ["position"])
    order = [norm.pk for norm in norms]
    audit(
        "service_norm.reordered",
        actor=actor,
        service_norm_id=service_norm_id,
        direction=direction,
        previous_order=previous_order,
        order=order,
    )
    return order
