"""Working time: how much of a stretch of time fell inside a team's opening hours.

Opening hours are wall-clock times in Europe/Amsterdam (08:30 is 08:30 in summer and in
winter), per weekday, with any number of periods a day; a team is closed on Dutch public
holidays (the `holidays` package) unless it says otherwise, and on its own closed days.
docs/metrics.md, "Working time".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.utils.translation import gettext_lazy as _

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# Weekday names by date.weekday(): 0 = Monday.
WEEKDAYS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)

# Monday to Friday 08:30-17:00: the hours of most municipal contact centres, used by a team
# that has not set its own and by conversations without a team.
DEFAULT_PERIODS: tuple[tuple[int, int, int], ...] = tuple(
    (weekday, 8 * 60 + 30, 17 * 60) for weekday in range(5)
)

# add_working_seconds gives up after this many days without enough opening hours.
_SEARCH_LIMIT_DAYS = 800


@functools.cache
def dutch_public_holidays(year: int) -> dict[date, str]:
    """The Dutch public holidays of a year, with their Dutch names."""
    return dict(holidays.country_holidays("NL", years=year, language="nl").items())


@dataclass(frozen=True)
class WorkingCalendar:
    """A team's opening hours. `periods` are (weekday, opens_minute, closes_minute) with
    0 = Monday and minutes since local midnight (1440 = the next midnight)."""

    periods: tuple[tuple[int, int, int], ...] = DEFAULT_PERIODS
    observes_public_holidays: bool = True
    closed_days: frozenset[date] = field(default_factory=frozenset)

    @functools.cached_property
    def _periods_by_weekday(self) -> dict[int, list[tuple[int, int]]]:
        by_weekday: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
        for weekday, opens, closes in self.periods:
            by_weekday[weekday].append((opens, closes))
        for day_periods in by_weekday.values():
            day_periods.sort()
        return by_weekday

    def periods_on(self, weekday: int) -> list[tuple[int, int]]:
        return self._periods_by_weekday[weekday]

    def is_closed_on(self, day: date) -> bool:
        if day in self.closed_days:
            return True
        return self.observes_public_holidays and day in dutch_public_holidays(day.year)

    def open_intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening periods as aware UTC datetimes (none on a closed day)."""
        return _open_intervals_on(self, day)

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The opening periods overlapping [start, end), clipped to it."""
        if end <= start:
            return
        day = start.astimezone(AMSTERDAM).date()
        last_day = end.astimezone(AMSTERDAM).date()
        while day <= last_day:
            for opens, closes in self.open_intervals_on(day):
                clipped_start, clipped_end = max(opens, start), min(closes, end)
                if clipped_start < clipped_end:
                    yield clipped_start, clipped_end
            day += timedelta(days=1)

    def working_seconds(self, start: datetime, end: datetime) -> int:
        """Seconds of [start, end) inside opening hours (0 when end is not after start)."""
        total = sum(
            (interval_end - interval_start).total_seconds()
            for interval_start, interval_end in self.open_intervals(start, end)
        )
        return round(total)

    def is_open_at(self, moment: datetime) -> bool:
        return any(True for _interval in self.open_intervals(moment, moment + timedelta(seconds=1)))

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime | None:
        """The moment `seconds` of opening hours after `start`: a deadline on the working-time
        clock. None when the team is not open that long in the next two years."""
        if seconds <= 0:
            return start
        remaining = timedelta(seconds=seconds)
        day = start.astimezone(AMSTERDAM).date()
        for _day in range(_SEARCH_LIMIT_DAYS):
            for opens, closes in self.open_intervals_on(day):
                opens = max(opens, start)
                if opens >= closes:
                    continue
                if closes - opens >= remaining:
                    return opens + remaining
                remaining -= closes - opens
            day += timedelta(days=1)
        return None

    def weekly_open_seconds(self) -> int:
        return sum((closes - opens) * 60 for _weekday, opens, closes in self.periods)


# The metrics refresh and the demo history ask for the same days of the same few calendars
# hundreds of thousands of times; a calendar is immutable, so its days are cached.
@functools.lru_cache(maxsize=65536)
def _open_intervals_on(
    calendar: WorkingCalendar, day: date
) -> tuple[tuple[datetime, datetime], ...]:
    if calendar.is_closed_on(day):
        return ()
    midnight = datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)
    # Wall-clock arithmetic, then UTC: a period is its local hours on a DST day too.
    return tuple(
        (
            _wall_clock(midnight, opens).astimezone(UTC),
            _wall_clock(midnight, closes).astimezone(UTC),
        )
        for opens, closes in calendar.periods_on(day.weekday())
    )


def _wall_clock(midnight: datetime, minutes: int) -> datetime:
    # Python's aware arithmetic is wall-clock arithmetic: midnight + 8.5 h is 08:30 local
    # even on the day the clocks change. 1440 minutes is the next midnight.
    shifted = midnight.replace(tzinfo=None) + timedelta(minutes=minutes)
    return shifted.replace(tzinfo=AMSTERDAM)


DEFAULT_CALENDAR = WorkingCalendar()


def calendars_for_teams(team_ids: Iterable[int | None]) -> dict[int | None, WorkingCalendar]:
    """Each team's calendar (the default for None and for teams without their own hours), in
    three queries however many teams."""
    from inbox.models import ClosedDay, OpeningPeriod, TeamSchedule

    wanted = {team_id for team_id in team_ids if team_id is not None}
    calendars: dict[int | None, WorkingCalendar] = {None: DEFAULT_CALENDAR}
    calendars.update(dict.fromkeys(wanted, DEFAULT_CALENDAR))
    if not wanted:
        return calendars
    schedules = {
        schedule.id: schedule
        for schedule in TeamSchedule.objects.filter(team_id__in=wanted).only(
            "id", "team_id", "observes_public_holidays"
        )
    }
    if not schedules:
        return calendars
    periods: dict[int, list[tuple[int, int, int]]] = {schedule_id: [] for schedule_id in schedules}
    for schedule_id, weekday, opens, closes in OpeningPeriod.objects.filter(
        schedule_id__in=schedules
    ).values_list("schedule_id", "weekday", "opens_minute", "closes_minute"):
        periods[schedule_id].append((weekday, opens, closes))
    closed: dict[int, set[date]] = {schedule_id: set() for schedule_id in schedules}
    for schedule_id, day in ClosedDay.objects.filter(schedule_id__in=schedules).values_list(
        "schedule_id", "date"
    ):
        closed[schedule_id].add(day)
    for schedule_id, schedule in schedules.items():
        calendars[schedule.team_id] = WorkingCalendar(
            periods=tuple(sorted(periods[schedule_id])),
            observes_public_holidays=schedule.observes_public_holidays,
            closed_days=frozenset(closed[schedule_id]),
        )
    return calendars


def calendar_for_team(team_id: int | None) -> WorkingCalendar:
    return calendars_for_teams([team_id])[team_id]


def public_holidays_from(today: date, *, years: int = 2) -> list[tuple[date, str]]:
    """The Dutch public holidays from `today` to the end of next year (with `years=2`), in
    date order, with their Dutch names: what the opening-hours page lists."""
    found: list[tuple[date, str]] = []
    for year in range(today.year, today.year + years):
        found.extend(
            (day, name) for day, name in dutch_public_holidays(year).items() if day >= today
        )
    return sorted(found)


def minute_label(minute: int) -> str:
    """510 → "08:30"; 1440 → "24:00" (closing at midnight)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class ScheduleSettings:
    """What the opening-hours page shows of a team: its calendar (the default one when it
    has no schedule of its own yet) and its closed days with their names."""

    calendar: WorkingCalendar
    has_own_schedule: bool
    closed_days: list[tuple[int, date, str]]


def team_schedule_settings(team_id: int) -> ScheduleSettings:
    """A team's opening hours for the settings page, in three queries."""
    from inbox.models import ClosedDay, OpeningPeriod, TeamSchedule

    schedule = (
        TeamSchedule.objects.filter(team_id=team_id).only("id", "observes_public_holidays").first()
    )
    if schedule is None:
        return ScheduleSettings(calendar=DEFAULT_CALENDAR, has_own_schedule=False, closed_days=[])
    periods = OpeningPeriod.objects.filter(schedule_id=schedule.pk).values_list(
        "weekday", "opens_minute", "closes_minute"
    )
    closed_days = list(
        ClosedDay.objects.filter(schedule_id=schedule.pk)
        .order_by("date")
        .values_list("id", "date", "name")
    )
    return ScheduleSettings(
        calendar=WorkingCalendar(
            periods=tuple(sorted(periods)),
            observes_public_holidays=schedule.observes_public_holidays,
            closed_days=frozenset(day for _id, day, _name in closed_days),
        ),
        has_own_schedule=True,
        closed_days=closed_days,
    )
