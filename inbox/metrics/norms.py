"""Service norms: which promise applies to a figure, and whether it was kept.

docs/metrics.md, "Service norms". A figure is measured against the first active norm (by
position) of its metric whose set conditions all match; a figure no norm covers counts in
neither "met" nor "breached".
"""

from __future__ import annotations

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


def active_norms() -> list[Norm]:
    """Every active norm in the order they are tried (one query)."""
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
