"""The dashboard's tables, shared by the page, the CSV/XLSX export and the REST API.

Each table is a function of a MetricsQuery that returns a MetricsTable; selectors register
them with @metrics_table("slug") (inbox/selectors/metrics.py), and the page, the export
(inbox/metrics/export.py) and /api/v1/metrics/<slug>/ all render the same rows, so the
three never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from inbox.metrics.working_time import AMSTERDAM

# Value kinds: how a cell is shown and exported. "seconds" are durations (shown "1 h 5 min",
# exported as whole seconds); "percent" is a fraction 0..1 (exported as such).
COLUMN_KINDS = ("text", "int", "seconds", "percent", "datetime", "date")


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    kind: str = "int"
    # A short explanation shown as the column's description (and in the API schema).
    help: str | Promise = ""

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class MetricsTable:
    slug: str
    title: str | Promise
    columns: list[Column]
    rows: list[dict[str, Any]]
    # Where docs/metrics.md defines the figures of this table ("#first-response-time").
    definition_anchor: str = ""
    # A total row, shown last and exported last, or None.
    total: dict[str, Any] | None = None


GROUPINGS: dict[str, str | Promise] = {
    "none": _("Everything together"),
    "channel": _("Channel"),
    "team": _("Team"),
    "agent": _("Agent"),
    "tag": _("Tag"),
}

RANGES: dict[str, str | Promise] = {
    "today": _("Today"),
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "custom": _("Custom"),
}

# A custom range is at most this long: a year fits, and the rollups stay cheap to read.
MAX_RANGE_DAYS = 400


class InvalidMetricsQuery(ValueError):
    """A period or grouping that cannot be read; the message is shown to the user."""


@dataclass(frozen=True)
class MetricsQuery:
    """A period [start, end) in aware UTC, a grouping, and optional filters."""

    start: datetime
    end: datetime
    range_key: str = "7d"
    group_by: str = "none"
    channel_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    now: datetime = field(default_factory=timezone.now)

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))

    def previous(self) -> MetricsQuery:
        """The period of the same length just before this one (the comparison)."""
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start)

    def as_params(self) -> dict[str, str]:
        params = {"range": self.range_key, "group": self.group_by}
        if self.range_key == "custom":
            params["from"] = self.start.astimezone(AMSTERDAM).date().isoformat()
            params["to"] = (self.end.astimezone(AMSTERDAM) - timedelta(days=1)).date().isoformat()
        if self.channel_ids:
            params["channel"] = ",".join(map(str, self.channel_ids))
        if self.team_ids:
            params["team"] = ",".join(map(str, self.team_ids))
        return params


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=AMSTERDAM)


# Ids are PostgreSQL integers; a larger number would fail in the database, not here.
_MAX_ID = 2**31 - 1


def _ids(raw: str) -> tuple[int, ...]:
    try:
        ids = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError as error:
        raise InvalidMetricsQuery(_("Filters take numeric ids.")) from error
    if any(not 0 < id_ <= _MAX_ID for id_ in ids):
        raise InvalidMetricsQuery(_("Filters take numeric ids."))
    return ids


def metrics_query_from_params(
    params: Mapping[str, str], *, now: datetime | None = None
) -> MetricsQuery:
    """?range=today|7d|30d|90d|custom&from=YYYY-MM-DD&to=YYYY-MM-DD&group=…&channel=1,2&team=3

    Periods are whole Amsterdam days: "7d" is today and the six days before it (up to now),
    a custom range runs from the start of `from` to the end of `to`.
    """
    now = now or timezone.now()
    range_key = params.get("range") or "7d"
    if range_key not in RANGES:
        raise InvalidMetricsQuery(_("Unknown period."))
    group_by = params.get("group") or "none"
    if group_by not in GROUPINGS:
        raise InvalidMetricsQuery(_("Unknown grouping."))
    today = now.astimezone(AMSTERDAM).date()
    if range_key == "custom":
        try:
            first = date.fromisoformat(params.get("from", ""))
            last = date.fromisoformat(params.get("to", ""))
        except ValueError as error:
            raise InvalidMetricsQuery(_("Give both dates as YYYY-MM-DD.")) from error
        if not (2000 <= first.year <= 2999 and 2000 <= last.year <= 2999):
            raise InvalidMetricsQuery(_("Give dates between the years 2000 and 2999."))
        if last < first:
            raise InvalidMetricsQuery(_("The end date is before the start date."))
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise InvalidMetricsQuery(_("A period can be at most 400 days."))
        start, end = _local_midnight(first), _local_midnight(last + timedelta(days=1))
    else:
        days = {"today": 1, "7d": 7, "30d": 30, "90d": 90}[range_key]
        start = _local_midnight(today - timedelta(days=days - 1))
        end = _local_midnight(today + timedelta(days=1))
    return MetricsQuery(
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        range_key=range_key,
        group_by=group_by,
        channel_ids=_ids(params.get("channel", "")),
        team_ids=_ids(params.get("team", "")),
        now=now,
    )


TableFunction = Callable[[MetricsQuery], MetricsTable]
TABLES: dict[str, TableFunction] = {}


def metrics_table(slug: str) -> Callable[[TableFunction], TableFunction]:
    """Register a table under its slug (the export's file name and the API path)."""

    def register(function: TableFunction) -> TableFunction:
        if slug in TABLES:
            raise ValueError(f"metrics table {slug!r} registered twice")
        TABLES[slug] = function
        return function

    return register
