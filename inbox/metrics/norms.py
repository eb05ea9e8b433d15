"""Service norms: which promise applies to a figure, and whether it was kept.

docs/metrics.md, "Service norms". A figure is measured against the first active norm (by
position) of its metric whose set conditions all match; a figure no norm covers counts in
neither "met" nor "breached".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from inbox.metrics.working_time import WorkingCalendar


@dataclass(frozen=True)
class Norm:
    id: int
    name: str
    metric: str
    channel_id: int | None
    visibility: str
    priority: int | None
    target_minutes: int
    clock: str

    @property
    def target_seconds(self) -> int:
        return self.target_minutes * 60

    @property
    def on_working_time(self) -> bool:
        return self.clock == "working"

    def applies_to(self, *, channel_id: int, is_private: bool, priority: int) -> bool:
        if self.channel_id is not None and self.channel_id != channel_id:
            return False
        if self.visibility == "public" and is_private:
            return False
        if self.visibility == "private" and not is_private:
            return False
        return self.priority is None or self.priority == priority

    def is_met(self, *, calendar_seconds: int, working_seconds: int) -> bool:
        measured = working_seconds if self.on_working_time else calendar_seconds
        return measured <= self.target_seconds

    def deadline(self, started_at: datetime, calendar: WorkingCalendar) -> datetime | None:
        if self.on_working_time:
            return calendar.add_working_seconds(started_at, self.target_seconds)
        return started_at + timedelta(seconds=self.target_seconds)


# Set by `norms_read_once` while one page is built: its tables all measure against the
# same norms, read once.
_norms_of_this_page: ContextVar[list[Norm] | None] = ContextVar("norms_of_this_page", default=None)


@contextmanager
def norms_read_once() -> Iterator[None]:
    """Within the block, active_norms() reads the database once and then repeats itself."""
    token = _norms_of_this_page.set(_read_active_norms())
    try:
        yield
    finally:
        _norms_of_this_page.reset(token)


def active_norms() -> list[Norm]:
    """Every active norm in the order they are tried (one query, or none inside
    norms_read_once)."""
    cached = _norms_of_this_page.get()
    return list(cached) if cached is not None else _read_active_norms()


def _read_active_norms() -> list[Norm]:
    from inbox.models import ServiceNorm

    return [
        Norm(**row)
        for row in ServiceNorm.objects.filter(is_active=True)
        .order_by("position", "id")
        .values(
            "id",
            "name",
            "metric",
            "channel_id",
            "visibility",
            "priority",
            "target_minutes",
            "clock",
        )
    ]


def norm_for(
    norms: list[Norm], *, metric: str, channel_id: int, is_private: bool, priority: int
) -> Norm | None:
    for norm in norms:
        if norm.metric == metric and norm.applies_to(
            channel_id=channel_id, is_private=is_private, priority=priority
        ):
            return norm
    return None


# --- in plain words (the norms settings page, docs/metrics.md "Service norms") -----------

# A working day on the default hours (08:30-17:00): how the settings page counts days.
WORKING_DAY_MINUTES = 510


def target_label(target_minutes: int, *, on_working_time: bool) -> str:
    """510 working minutes → "1 working day"; 90 → "1 working hour and 30 minutes"."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if on_working_time and target_minutes % WORKING_DAY_MINUTES == 0:
        days = target_minutes // WORKING_DAY_MINUTES
        return ngettext("%(n)s working day", "%(n)s working days", days) % {"n": days}
    if not on_working_time and target_minutes % 1440 == 0:
        days = target_minutes // 1440
        return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
    hours, minutes = divmod(target_minutes, 60)
    if on_working_time:
        hours_text = ngettext("%(n)s working hour", "%(n)s working hours", hours) % {"n": hours}
    else:
        hours_text = ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
    if on_working_time and not hours:
        # "45 working minutes"; after the hours, "1 working hour and 30 minutes" says enough.
        return ngettext("%(n)s working minute", "%(n)s working minutes", minutes) % {"n": minutes}
    minutes_text = ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
    if hours and minutes:
        return _("%(hours)s and %(minutes)s") % {"hours": hours_text, "minutes": minutes_text}
    return hours_text if hours else minutes_text


def norm_promise(
    *,
    metric: str,
    target_minutes: int,
    clock: str,
    visibility: str,
    channel_name: str | None,
    priority: int | None,
) -> str:
    """What a norm promises, in one sentence: "First response within 1 working hour on
    public messages, every channel"."""
    from django.utils.translation import gettext as _

    from inbox.models import Conversation

    metric_text = {
        "first_response": _("First response"),
        "next_response": _("Next response"),
        "resolution": _("Resolution"),
    }[metric]
    messages_text = {
        "any": _("public and private messages"),
        "public": _("public messages"),
        "private": _("private messages"),
    }[visibility]
    channels_text = (
        _("every channel")
        if channel_name is None
        else _("channel %(channel)s") % {"channel": channel_name}
    )
    values = {
        "metric": metric_text,
        "target": target_label(target_minutes, on_working_time=clock == "working"),
        "messages": messages_text,
        "channels": channels_text,
    }
    if priority is None:
        return _("%(metric)s within %(target)s on %(messages)s, %(channels)s.") % values
    values["priority"] = str(Conversation.Priority(priority).label).lower()
    return (
        _("%(metric)s within %(target)s on %(messages)s, %(channels)s, priority %(priority)s only.")
        % values
    )
