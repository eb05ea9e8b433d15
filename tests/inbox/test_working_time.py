"""The working-time clock (inbox/metrics/working_time.py) against hand-computed cases: weekends,
every kind of Dutch public holiday, the clock changes, evening shifts, closing at midnight,
a team's own closed days, and deadlines across a long holiday weekend.

All moments are written in Amsterdam time and compared in UTC; 2026-03-29 and 2026-10-25 are
the Sundays the clocks go forward and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from inbox.metrics.working_time import (
    AMSTERDAM,
    DEFAULT_CALENDAR,
    WorkingCalendar,
    calendar_for_team,
    dutch_public_holidays,
    minute_label,
    public_holidays_from,
    team_schedule_settings,
)

HOUR = 3600
DEFAULT_DAY = 8 * HOUR + 30 * 60  # 08:30-17:00

EVERY_DAY_9_TO_17 = WorkingCalendar(periods=tuple((day, 9 * 60, 17 * 60) for day in range(7)))
ROUND_THE_CLOCK = WorkingCalendar(periods=tuple((day, 0, 1440) for day in range(7)))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


# --- weekdays and weekends ----------------------------------------------------------------


def test_a_whole_default_weekday_is_eight_and_a_half_hours() -> None:
    # Wednesday 11 November 2026.
    assert DEFAULT_CALENDAR.working_seconds(local(2026, 11, 11), local(2026, 11, 12)) == DEFAULT_DAY


def test_a_weekend_has_no_working_time_on_the_default_hours() -> None:
    # Friday 17:00 to Monday 08:30: nothing.
    assert (
        DEFAULT_CALENDAR.working_seconds(local(2026, 11, 13, 17), local(2026, 11, 16, 8, 30)) == 0
    )


def test_a_message_on_friday_afternoon_answered_monday_morning_waited_one_working_hour() -> None:
    asked, answered = local(2026, 11, 13, 16, 30), local(2026, 11, 16, 9)
    assert DEFAULT_CALENDAR.working_seconds(asked, answered) == HOUR


def test_a_stretch_before_opening_counts_from_opening() -> None:
    assert DEFAULT_CALENDAR.working_seconds(local(2026, 11, 11, 7), local(2026, 11, 11, 9)) == 1800


def test_a_whole_default_week_is_forty_two_and_a_half_hours() -> None:
    monday = local(2026, 11, 9)
    assert DEFAULT_CALENDAR.working_seconds(monday, monday + timedelta(days=7)) == 5 * DEFAULT_DAY
    assert DEFAULT_CALENDAR.weekly_open_seconds() == 5 * DEFAULT_DAY


def test_end_not_after_start_is_zero() -> None:
    moment = local(2026, 11, 11, 10)
    assert DEFAULT_CALENDAR.working_seconds(moment, moment) == 0
    assert DEFAULT_CALENDAR.working_seconds(moment, moment - timedelta(hours=3)) == 0


def test_is_open_at_knows_opening_and_closing_minutes() -> None:
    assert not DEFAULT_CALENDAR.is_open_at(local(2026, 11, 11, 8, 29))
    assert DEFAULT_CALENDAR.is_open_at(local(2026, 11, 11, 8, 30))
    assert DEFAULT_CALENDAR.is_open_at(local(2026, 11, 11, 16, 59))
    assert not DEFAULT_CALENDAR.is_open_at(local(2026, 11, 11, 17))
    assert not DEFAULT_CALENDAR.is_open_at(local(2026, 11, 14, 10))  # Saturday


# --- public holidays ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "Nieuwjaarsdag"),
        (date(2026, 4, 3), "Goede vrijdag"),
        (date(2026, 4, 6), "Tweede paasdag"),
        (date(2026, 4, 27), "Koningsdag"),
        (date(2026, 5, 14), "Hemelvaartsdag"),
        (date(2026, 5, 25), "Tweede pinksterdag"),
        (date(2026, 12, 25), "Eerste kerstdag"),
        (date(2026, 12, 26), "Tweede kerstdag"),
        (date(2025, 5, 5), "Bevrijdingsdag"),
    ],
)
def test_each_kind_of_public_holiday_has_no_working_time(day: date, name: str) -> None:
    assert dutch_public_holidays(day.year)[day] == name
    start = local(day.year, day.month, day.day)
    assert EVERY_DAY_9_TO_17.working_seconds(start, start + timedelta(days=1)) == 0
    assert EVERY_DAY_9_TO_17.is_closed_on(day)


def test_good_friday_closes_a_weekday_that_is_otherwise_open() -> None:
    # Thursday 2 April 2026 is open, Good Friday the 3rd is not.
    thursday = local(2026, 4, 2)
    assert DEFAULT_CALENDAR.working_seconds(thursday, thursday + timedelta(days=2)) == DEFAULT_DAY


def test_kings_day_moves_to_saturday_when_27_april_is_a_sunday() -> None:
    # 27 April 2025 was a Sunday: King's Day was Saturday 26 April.
    assert date(2025, 4, 26) in dutch_public_holidays(2025)
    assert date(2025, 4, 27) not in dutch_public_holidays(2025)
    saturday, sunday = local(2025, 4, 26), local(2025, 4, 27)
    assert EVERY_DAY_9_TO_17.working_seconds(saturday, sunday) == 0
    assert EVERY_DAY_9_TO_17.working_seconds(sunday, sunday + timedelta(days=1)) == 8 * HOUR


def test_liberation_day_is_a_holiday_only_in_lustrum_years() -> None:
    assert date(2025, 5, 5) in dutch_public_holidays(2025)
    assert date(2030, 5, 5) in dutch_public_holidays(2030)
    assert date(2026, 5, 5) not in dutch_public_holidays(2026)
    # Tuesday 5 May 2026 is an ordinary working day.
    tuesday = local(2026, 5, 5)
    assert DEFAULT_CALENDAR.working_seconds(tuesday, tuesday + timedelta(days=1)) == DEFAULT_DAY


def test_a_team_that_does_not_observe_public_holidays_works_on_them() -> None:
    calendar = WorkingCalendar(observes_public_holidays=False)
    christmas = local(2026, 12, 25)  # a Friday
    assert calendar.working_seconds(christmas, christmas + timedelta(days=1)) == DEFAULT_DAY
    assert DEFAULT_CALENDAR.working_seconds(christmas, christmas + timedelta(days=1)) == 0


def test_public_holidays_from_lists_this_year_and_next_from_today_in_order() -> None:
    listed = public_holidays_from(date(2026, 11, 29))
    assert listed[0] == (date(2026, 12, 25), "Eerste kerstdag")
    assert listed[-1] == (date(2027, 12, 26), "Tweede kerstdag")
    assert all(day >= date(2026, 11, 29) for day, _name in listed)
    assert [day for day, _name in listed] == sorted(day for day, _name in listed)


# --- the clocks change --------------------------------------------------------------------


def test_the_night_the_clocks_go_forward_has_23_hours() -> None:
    sunday = local(2026, 3, 29)
    assert ROUND_THE_CLOCK.working_seconds(sunday, sunday + timedelta(days=1)) == 23 * HOUR


def test_the_night_the_clocks_go_back_has_25_hours() -> None:
    sunday = local(2026, 10, 25)
    assert ROUND_THE_CLOCK.working_seconds(sunday, sunday + timedelta(days=1)) == 25 * HOUR


def test_opening_hours_are_wall_clock_hours_on_both_sides_of_a_clock_change() -> None:
    # 08:30 Amsterdam is 07:30 UTC in winter (Friday 27 March) and 06:30 UTC in summer.
    calendar = WorkingCalendar(periods=tuple((day, 8 * 60 + 30, 17 * 60) for day in range(7)))
    friday = list(calendar.open_intervals_on(date(2026, 3, 27)))
    sunday = list(calendar.open_intervals_on(date(2026, 3, 29)))
    assert friday == [
        (datetime(2026, 3, 27, 7, 30, tzinfo=UTC), datetime(2026, 3, 27, 16, tzinfo=UTC))
    ]
    assert sunday == [
        (datetime(2026, 3, 29, 6, 30, tzinfo=UTC), datetime(2026, 3, 29, 15, tzinfo=UTC))
    ]
    october = list(calendar.open_intervals_on(date(2026, 10, 25)))
    assert october == [
        (datetime(2026, 10, 25, 7, 30, tzinfo=UTC), datetime(2026, 10, 25, 16, tzinfo=UTC))
    ]


def test_a_wait_across_the_spring_clock_change_counts_opening_hours_only() -> None:
    # Friday 27 March 16:00 to Monday 30 March 09:30, default hours: 1 h + 1 h.
    asked, answered = local(2026, 3, 27, 16), local(2026, 3, 30, 9, 30)
    assert DEFAULT_CALENDAR.working_seconds(asked, answered) == 2 * HOUR


# --- evening shifts, midnight, closed days ------------------------------------------------

EVENING_SHIFT = WorkingCalendar(
    periods=(
        *((day, 8 * 60 + 30, 17 * 60) for day in range(5)),
        (3, 19 * 60, 21 * 60),  # Thursday evening
    )
)


def test_an_evening_shift_counts_and_the_gap_before_it_does_not() -> None:
    thursday = local(2026, 11, 12)
    assert EVENING_SHIFT.working_seconds(thursday, thursday + timedelta(days=1)) == (
        DEFAULT_DAY + 2 * HOUR
    )
    # 16:00-20:00: one hour before closing, one hour of the evening shift.
    assert EVENING_SHIFT.working_seconds(local(2026, 11, 12, 16), local(2026, 11, 12, 20)) == (
        2 * HOUR
    )
    assert not EVENING_SHIFT.is_open_at(local(2026, 11, 12, 18))
    assert EVENING_SHIFT.is_open_at(local(2026, 11, 12, 20))
    assert EVENING_SHIFT.weekly_open_seconds() == 5 * DEFAULT_DAY + 2 * HOUR


def test_a_deadline_can_fall_in_the_evening_shift() -> None:
    deadline = EVENING_SHIFT.add_working_seconds(local(2026, 11, 12, 16, 30), HOUR)
    assert deadline == local(2026, 11, 12, 19, 30)


def test_a_period_closing_at_1440_runs_to_midnight_and_a_night_shift_is_two_periods() -> None:
    # Friday 22:00-24:00 and Saturday 00:00-02:00: one night shift.
    night = WorkingCalendar(periods=((4, 22 * 60, 1440), (5, 0, 2 * 60)))
    assert night.working_seconds(local(2026, 11, 13, 21), local(2026, 11, 14, 3)) == 4 * HOUR
    assert night.is_open_at(local(2026, 11, 13, 23, 59))
    assert night.is_open_at(local(2026, 11, 14, 0))
    deadline = night.add_working_seconds(local(2026, 11, 13, 23), 2 * HOUR)
    assert deadline == local(2026, 11, 14, 1)


def test_a_closed_day_of_the_team_has_no_working_time() -> None:
    bridge_day = date(2026, 5, 15)  # the Friday after Ascension
    calendar = WorkingCalendar(closed_days=frozenset({bridge_day}))
    thursday = local(2026, 5, 14)  # Ascension
    assert calendar.working_seconds(thursday, thursday + timedelta(days=4)) == 0
    assert DEFAULT_CALENDAR.working_seconds(thursday, thursday + timedelta(days=4)) == DEFAULT_DAY
    assert calendar.is_closed_on(bridge_day)


def test_a_closed_day_counts_even_when_public_holidays_do_not() -> None:
    calendar = WorkingCalendar(
        observes_public_holidays=False, closed_days=frozenset({date(2026, 11, 11)})
    )
    wednesday = local(2026, 11, 11)
    assert calendar.working_seconds(wednesday, wednesday + timedelta(days=1)) == 0


# --- deadlines ----------------------------------------------------------------------------


def test_add_working_seconds_crosses_the_long_easter_weekend() -> None:
    # Thursday 2 April 2026 16:00 + 2 working hours: 1 h on Thursday; Good Friday, the
    # weekend and Easter Monday are closed; 1 h on Tuesday 7 April from 08:30.
    deadline = DEFAULT_CALENDAR.add_working_seconds(local(2026, 4, 2, 16), 2 * HOUR)
    assert deadline == local(2026, 4, 7, 9, 30)
    assert deadline == datetime(2026, 4, 7, 7, 30, tzinfo=UTC)


def test_add_working_seconds_starting_outside_hours_starts_at_opening() -> None:
    # Saturday evening + 1 working hour: Monday 09:30.
    assert DEFAULT_CALENDAR.add_working_seconds(local(2026, 11, 14, 20), HOUR) == local(
        2026, 11, 16, 9, 30
    )


def test_add_working_seconds_ending_exactly_at_closing_stays_that_day() -> None:
    assert DEFAULT_CALENDAR.add_working_seconds(local(2026, 11, 11, 16), HOUR) == local(
        2026, 11, 11, 17
    )


def test_add_zero_working_seconds_is_the_start() -> None:
    start = local(2026, 11, 14, 20)
    assert DEFAULT_CALENDAR.add_working_seconds(start, 0) == start


def test_a_calendar_with_no_periods_has_no_deadline() -> None:
    never = WorkingCalendar(periods=())
    assert never.add_working_seconds(local(2026, 11, 11, 10), 60) is None
    assert never.working_seconds(local(2026, 11, 9), local(2026, 11, 16)) == 0


def test_working_seconds_and_add_working_seconds_agree() -> None:
    start = local(2026, 12, 23, 15)
    for seconds in (60, HOUR, DEFAULT_DAY, 3 * DEFAULT_DAY + 17):
        deadline = EVENING_SHIFT.add_working_seconds(start, seconds)
        assert deadline is not None
        assert EVENING_SHIFT.working_seconds(start, deadline) == seconds


# --- helpers and the database -------------------------------------------------------------


def test_minute_label_writes_midnight_as_24_00() -> None:
    assert minute_label(510) == "08:30"
    assert minute_label(0) == "00:00"
    assert minute_label(1440) == "24:00"


@pytest.mark.django_db
def test_a_team_without_a_schedule_gets_the_default_calendar(team_lead) -> None:  # type: ignore[no-untyped-def]
    from inbox.services import team_create

    team = team_create(actor=team_lead.user, name="Afval")
    assert calendar_for_team(team.pk) == DEFAULT_CALENDAR
    settings = team_schedule_settings(team.pk)
    assert not settings.has_own_schedule
    assert settings.calendar == DEFAULT_CALENDAR
