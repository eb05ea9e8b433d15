"""Service norms: which norm a figure is measured against (position order, conditions,
visibility, priority), whether it was met on either clock and when it breaches; the services
that change norms (audited, team leads only); and the plain-words promise on the settings
page."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from inbox.metrics.norms import Norm, active_norms, norm_for, norm_promise, target_label
from inbox.metrics.working_time import AMSTERDAM, DEFAULT_CALENDAR, WorkingCalendar
from inbox.models import AuditEvent, ServiceNorm
from inbox.services import (
    ServiceError,
    service_norm_create,
    service_norm_delete,
    service_norm_move,
    service_norm_update,
)

pytestmark = pytest.mark.django_db


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def norm(**overrides: object) -> Norm:
    values: dict[str, object] = {
        "id": 1,
        "name": "n",
        "metric": "first_response",
        "channel_id": None,
        "visibility": "any",
        "priority": None,
        "target_minutes": 60,
        "clock": "working",
    }
    values.update(overrides)
    return Norm(**values)  # type: ignore[arg-type]


@pytest.fixture
def no_seeded_norms() -> None:
    # Migration 0009 seeds three norms; these tests set up their own.
    ServiceNorm.objects.all().delete()


# --- matching -------------------------------------------------------------------------------


def test_the_first_matching_norm_by_position_wins(team_lead, channel, no_seeded_norms) -> None:  # type: ignore[no-untyped-def]
    actor = team_lead.user
    general = service_norm_create(
        actor=actor, name="General", metric="first_response", target_minutes=60
    )
    private = service_norm_create(
        actor=actor,
        name="Private",
        metric="first_response",
        target_minutes=510,
        visibility="private",
    )
    norms = active_norms()
    assert [n.id for n in norms] == [general.pk, private.pk]
    # The general norm comes first, so it also takes private messages...
    found = norm_for(
        norms, metric="first_response", channel_id=channel.pk, is_private=True, priority=2
    )
    assert found is not None and found.id == general.pk
    # ...until the private one is moved above it.
    service_norm_move(actor=actor, service_norm_id=private.pk, direction="up")
    norms = active_norms()
    found = norm_for(
        norms, metric="first_response", channel_id=channel.pk, is_private=True, priority=2
    )
    assert found is not None and found.id == private.pk
    found = norm_for(
        norms, metric="first_response", channel_id=channel.pk, is_private=False, priority=2
    )
    assert found is not None and found.id == general.pk


def test_an_inactive_norm_is_never_used(team_lead, channel, no_seeded_norms) -> None:  # type: ignore[no-untyped-def]
    service_norm_create(
        actor=team_lead.user,
        name="Off",
        metric="first_response",
        target_minutes=60,
        is_active=False,
    )
    assert active_norms() == []
    assert (
        norm_for(
            active_norms(),
            metric="first_response",
            channel_id=channel.pk,
            is_private=False,
            priority=2,
        )
        is None
    )


def test_a_norm_only_covers_its_own_metric() -> None:
    norms = [norm(metric="next_response")]
    assert (
        norm_for(norms, metric="first_response", channel_id=1, is_private=False, priority=2) is None
    )
    assert (
        norm_for(norms, metric="next_response", channel_id=1, is_private=False, priority=2)
        is not None
    )


def test_a_channel_condition_matches_only_that_channel() -> None:
    norms = [norm(id=1, channel_id=7), norm(id=2)]

    def found_id(channel_id: int) -> int | None:
        found = norm_for(
            norms, metric="first_response", channel_id=channel_id, is_private=False, priority=2
        )
        return found.id if found else None

    assert found_id(7) == 1
    assert found_id(8) == 2


@pytest.mark.parametrize(
    ("visibility", "is_private", "applies"),
    [
        ("any", True, True),
        ("any", False, True),
        ("public", False, True),
        ("public", True, False),
        ("private", True, True),
        ("private", False, False),
    ],
)
def test_visibility_conditions(visibility: str, is_private: bool, applies: bool) -> None:
    assert (
        norm(visibility=visibility).applies_to(channel_id=1, is_private=is_private, priority=2)
        is applies
    )


def test_a_priority_condition_matches_only_that_priority() -> None:
    urgent = norm(priority=4)
    assert urgent.applies_to(channel_id=1, is_private=False, priority=4)
    assert not urgent.applies_to(channel_id=1, is_private=False, priority=3)
    assert norm().applies_to(channel_id=1, is_private=False, priority=1)


def test_every_condition_must_match() -> None:
    strict = norm(channel_id=7, visibility="private", priority=4)
    assert strict.applies_to(channel_id=7, is_private=True, priority=4)
    assert not strict.applies_to(channel_id=7, is_private=True, priority=3)
    assert not strict.applies_to(channel_id=7, is_private=False, priority=4)
    assert not strict.applies_to(channel_id=8, is_private=True, priority=4)


# --- met and deadline ---------------------------------------------------------------------


def test_is_met_on_the_working_clock_uses_working_seconds() -> None:
    working = norm(clock="working", target_minutes=60)
    # Friday 16:30 to Monday 09:00: 66 calendar hours, 1 working hour.
    assert working.is_met(calendar_seconds=66 * 3600, working_seconds=3600)
    assert not working.is_met(calendar_seconds=3601, working_seconds=3601)


def test_is_met_on_the_calendar_clock_uses_calendar_seconds() -> None:
    calendar = norm(clock="calendar", target_minutes=60)
    assert not calendar.is_met(calendar_seconds=66 * 3600, working_seconds=3600)
    assert calendar.is_met(calendar_seconds=3600, working_seconds=0)


def test_the_working_clock_deadline_skips_the_weekend() -> None:
    working = norm(clock="working", target_minutes=60)
    assert working.deadline(local(2026, 11, 13, 16, 30), DEFAULT_CALENDAR) == local(2026, 11, 16, 9)


def test_the_calendar_clock_deadline_ignores_opening_hours() -> None:
    calendar = norm(clock="calendar", target_minutes=60)
    start = local(2026, 11, 13, 16, 30)
    assert calendar.deadline(start, DEFAULT_CALENDAR) == start + timedelta(hours=1)


def test_a_team_never_open_has_no_working_deadline() -> None:
    assert (
        norm(clock="working").deadline(local(2026, 11, 13, 10), WorkingCalendar(periods=())) is None
    )


# --- services -------------------------------------------------------------------------------


def test_creating_a_norm_is_audited_and_goes_last(team_lead, channel) -> None:  # type: ignore[no-untyped-def]
    last_position = max(ServiceNorm.objects.values_list("position", flat=True))
    created = service_norm_create(
        actor=team_lead.user,
        name="  Urgent   private ",
        metric="resolution",
        target_minutes=1020,
        clock="working",
        channel_id=channel.pk,
        visibility="private",
        priority=4,
    )
    assert created.name == "Urgent private"
    assert created.position > last_position
    event = AuditEvent.objects.get(action="service_norm.created")
    assert event.actor == team_lead.user
    assert event.data["service_norm_id"] == created.pk
    assert event.data["target_minutes"] == 1020
    assert event.channel_id == channel.pk  # the audit column, so the channel log shows it


def test_updating_a_norm_is_audited_with_what_it_was(team_lead) -> None:  # type: ignore[no-untyped-def]
    seeded = ServiceNorm.objects.get(target_minutes=510)
    service_norm_update(
        actor=team_lead.user,
        service_norm_id=seeded.pk,
        name="Privé binnen 2 werkdagen",
        metric="first_response",
        target_minutes=1020,
        clock="working",
        channel_id=None,
        visibility="private",
        priority=None,
        is_active=True,
    )
    seeded.refresh_from_db()
    assert seeded.target_minutes == 1020
    event = AuditEvent.objects.get(action="service_norm.updated")
    assert event.data["previous"]["target_minutes"] == 510
    assert event.data["target_minutes"] == 1020


def test_deleting_a_norm_is_audited(team_lead) -> None:  # type: ignore[no-untyped-def]
    seeded = ServiceNorm.objects.order_by("position").first()
    assert seeded is not None
    service_norm_delete(actor=team_lead.user, service_norm_id=seeded.pk)
    assert not ServiceNorm.objects.filter(pk=seeded.pk).exists()
    event = AuditEvent.objects.get(action="service_norm.deleted")
    assert event.data["service_norm_id"] == seeded.pk
    assert event.data["name"] == seeded.name


def test_moving_a_norm_renumbers_and_audits_the_order(team_lead) -> None:  # type: ignore[no-untyped-def]
    before = list(ServiceNorm.objects.order_by("position", "id").values_list("id", flat=True))
    order = service_norm_move(actor=team_lead.user, service_norm_id=before[2], direction="up")
    assert order == [before[0], before[2], before[1]]
    assert list(ServiceNorm.objects.order_by("position").values_list("id", flat=True)) == order
    event = AuditEvent.objects.get(action="service_norm.reordered")
    assert event.data["previous_order"] == before
    assert event.data["order"] == order


def test_moving_the_first_norm_up_changes_nothing(team_lead) -> None:  # type: ignore[no-untyped-def]
    before = list(ServiceNorm.objects.order_by("position", "id").values_list("id", flat=True))
    assert (
        service_norm_move(actor=team_lead.user, service_norm_id=before[0], direction="up") == before
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target_minutes", 0),
        ("metric", "happiness"),
        ("visibility", "secret"),
        ("clock", "sundial"),
        ("priority", 9),
        ("name", "   "),
        ("channel_id", 999_999),
    ],
)
def test_an_invalid_norm_is_refused(team_lead, field: str, value: object) -> None:  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {"name": "n", "metric": "first_response", "target_minutes": 60}
    arguments[field] = value
    with pytest.raises(ServiceError):
        service_norm_create(actor=team_lead.user, **arguments)  # type: ignore[arg-type]
    assert not AuditEvent.objects.filter(action="service_norm.created").exists()


def test_an_agent_cannot_change_norms(agent) -> None:  # type: ignore[no-untyped-def]
    seeded = ServiceNorm.objects.first()
    assert seeded is not None
    with pytest.raises(PermissionDenied):
        service_norm_create(actor=agent.user, name="n", metric="first_response", target_minutes=60)
    with pytest.raises(PermissionDenied):
        service_norm_delete(actor=agent.user, service_norm_id=seeded.pk)
    with pytest.raises(PermissionDenied):
        service_norm_move(actor=agent.user, service_norm_id=seeded.pk, direction="down")
    assert ServiceNorm.objects.filter(pk=seeded.pk).exists()
    assert not AuditEvent.objects.filter(action__startswith="service_norm.").exists()


# --- in plain words -------------------------------------------------------------------------


def test_the_promise_of_a_norm_in_plain_english() -> None:
    with translation.override("en"):
        assert (
            norm_promise(
                metric="first_response",
                target_minutes=60,
                clock="working",
                visibility="public",
                channel_name=None,
                priority=None,
            )
            == "First response within 1 working hour on public messages, every channel."
        )
        assert (
            norm_promise(
                metric="resolution",
                target_minutes=1020,
                clock="working",
                visibility="private",
                channel_name="demodorp-x",
                priority=4,
            )
            == "Resolution within 2 working days on private messages, channel demodorp-x, "
            "priority urgent only."
        )


@pytest.mark.parametrize(
    ("minutes", "working", "label"),
    [
        (510, True, "1 working day"),
        (1020, True, "2 working days"),
        (90, True, "1 working hour and 30 minutes"),
        (45, True, "45 working minutes"),
        (120, False, "2 hours"),
        (1440, False, "1 day"),
        (510, False, "8 hours and 30 minutes"),
    ],
)
def test_target_labels(minutes: int, working: bool, label: str) -> None:
    with translation.override("en"):
        assert target_label(minutes, on_working_time=working) == label
