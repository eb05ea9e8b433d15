"""Forms of the dashboard settings: a team's opening hours and closed days, service norms.
They only parse input; the services decide (inbox/services/schedules.py)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from inbox.metrics.norms import WORKING_DAY_MINUTES
from inbox.metrics.working_time import WEEKDAYS, minute_label
from inbox.models import Conversation, ServiceNorm
from inbox.services.schedules import MAX_TARGET_MINUTES, opening_period_problems

# "8:30", "08:30", "08.30", "0830", "8" and "24:00" (closing at midnight).
_TIME = re.compile(r"^(?P<hours>\d{1,2})(?:[:.]?(?P<minutes>\d{2}))?$")

# Empty rows for new periods under each day's own: enough for a split day and an evening.
_SPARE_SLOTS = 1
_MIN_SLOTS = 2


def parse_time(text: str) -> int | None:
    """Minutes since midnight, or None when `text` is no time of day (24:00 is 1440)."""
    match = _TIME.match(text.strip())
    if match is None:
        return None
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


class OpeningHoursForm(forms.Form):
    """One row per weekday: "open" and any number of periods (opens, closes). Empty period
    rows are ignored; a day that is not ticked open has no periods."""

    observes_public_holidays = forms.BooleanField(
        label=_("Closed on Dutch public holidays"), required=False
    )

    def __init__(
        self,
        data: Any = None,
        *,
        periods: Iterable[tuple[int, int, int]] = (),
        observes_public_holidays: bool = True,
    ) -> None:
        periods = sorted(periods)
        initial: dict[str, Any] = {"observes_public_holidays": observes_public_holidays}
        per_day = Counter(weekday for weekday, _opens, _closes in periods)
        slot_index: Counter[int] = Counter()
        for weekday, opens, closes in periods:
            index = slot_index[weekday]
            slot_index[weekday] += 1
            initial[f"day{weekday}_open"] = True
            initial[f"day{weekday}_opens{index}"] = minute_label(opens)
            initial[f"day{weekday}_closes{index}"] = minute_label(closes)
        super().__init__(data, initial=initial)
        self.slots: dict[int, int] = {}
        for weekday in range(7):
            if data is not None:
                # As many rows as were posted (the page may have added some).
                prefix = f"day{weekday}_opens"
                posted = [key for key in data if key.startswith(prefix)]
                count = max(
                    [int(key[len(prefix) :]) + 1 for key in posted if key[len(prefix) :].isdigit()]
                    or [0]
                )
            else:
                count = per_day[weekday] + _SPARE_SLOTS
            count = min(max(count, _MIN_SLOTS), 12)
            self.slots[weekday] = count
            day_name = WEEKDAYS[weekday]
            self.fields[f"day{weekday}_open"] = forms.BooleanField(
                label=_("Open on %(day)s") % {"day": day_name}, required=False
            )
            for index in range(count):
                self.fields[f"day{weekday}_opens{index}"] = forms.CharField(
                    label=_("%(day)s, period %(number)s: opens")
                    % {"day": day_name, "number": index + 1},
                    required=False,
                    max_length=5,
                )
                self.fields[f"day{weekday}_closes{index}"] = forms.CharField(
                    label=_("%(day)s, period %(number)s: closes")
                    % {"day": day_name, "number": index + 1},
                    required=False,
                    max_length=5,
                )

    def rows(self) -> list[dict[str, Any]]:
        """What the template draws: per weekday its "open" box, its period rows, its errors."""
        return [
            {
                "weekday": weekday,
                "name": WEEKDAYS[weekday],
                "open": self[f"day{weekday}_open"],
                "periods": [
                    (
                        index + 1,
                        self[f"day{weekday}_opens{index}"],
                        self[f"day{weekday}_closes{index}"],
                    )
                    for index in range(self.slots[weekday])
                ],
                "errors": self.day_errors.get(weekday, []),
            }
            for weekday in range(7)
        ]

    @property
    def day_errors(self) -> dict[int, list[str]]:
        return getattr(self, "_day_errors", {})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        day_errors: dict[int, list[str]] = {}
        periods: list[tuple[int, int, int]] = []
        for weekday in range(7):
            day_name = WEEKDAYS[weekday]
            is_open = cleaned.get(f"day{weekday}_open", False)
            day_periods: list[tuple[int, int, int]] = []
            problems: list[str] = []
            for index in range(self.slots[weekday]):
                opens_text = (cleaned.get(f"day{weekday}_opens{index}") or "").strip()
                closes_text = (cleaned.get(f"day{weekday}_closes{index}") or "").strip()
                if not opens_text and not closes_text:
                    continue
                opens, closes = parse_time(opens_text), parse_time(closes_text)
                if opens is None or closes is None:
                    problems.append(
                        str(
                            _(
                                "%(day)s, period %(number)s: write both times as hours and "
                                "minutes, like 08:30 or 17:00 (24:00 is midnight)."
                            )
                        )
                        % {"day": day_name, "number": index + 1}
                    )
                    continue
                day_periods.append((weekday, opens, closes))
            if not is_open:
                continue
            if not problems:
                problems.extend(opening_period_problems(day_periods))
            if not day_periods and not problems:
                problems.append(
                    str(
                        _(
                            "%(day)s is ticked open but has no hours: fill in a period, or "
                            "untick it."
                        )
                    )
                    % {"day": day_name}
                )
            if problems:
                day_errors[weekday] = problems
                for problem in problems:
                    self.add_error(f"day{weekday}_open", problem)
            periods.extend(day_periods)
        self._day_errors = day_errors
        cleaned["periods"] = periods
        return cleaned


class ClosedDayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(
        label=_("Name (optional)"),
        required=False,
        max_length=100,
        help_text=_("For example: bridge day, staff day."),
    )


class ServiceNormForm(forms.Form):
    """The target is hours and minutes; on the working-time clock a working day counts as
    8 hours 30 minutes (the default day, 08:30-17:00), which the page says next to it."""

    name = forms.CharField(label=_("Name"), max_length=100)
    metric = forms.ChoiceField(label=_("Measures"), choices=ServiceNorm.Metric.choices)
    target_hours = forms.IntegerField(
        label=_("Hours"), min_value=0, max_value=MAX_TARGET_MINUTES // 60, initial=1
    )
    target_minutes = forms.IntegerField(label=_("Minutes"), min_value=0, max_value=59, initial=0)
    clock = forms.ChoiceField(
        label=_("Clock"),
        choices=ServiceNorm.Clock.choices,
        widget=forms.RadioSelect,
        initial=ServiceNorm.Clock.WORKING,
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.order_by("name"),
        required=False,
        empty_label=_("Every channel"),
    )
    visibility = forms.ChoiceField(
        label=_("Messages"),
        choices=ServiceNorm.Visibility.choices,
        initial=ServiceNorm.Visibility.ANY,
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Any priority")), *Conversation.Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        hours, minutes = cleaned.get("target_hours"), cleaned.get("target_minutes")
        if hours is not None and minutes is not None:
            total = hours * 60 + minutes
            if total < 1:
                self.add_error("target_hours", _("The target must be at least 1 minute."))
            elif total > MAX_TARGET_MINUTES:
                self.add_error("target_hours", _("The target can be at most 60 working days."))
            cleaned["target_total_minutes"] = total
        return cleaned

    @staticmethod
    def initial_for(norm: ServiceNorm) -> dict[str, Any]:
        hours, minutes = divmod(norm.target_minutes, 60)
        return {
            "name": norm.name,
            "metric": norm.metric,
            "target_hours": hours,
            "target_minutes": minutes,
            "clock": norm.clock,
            "channel": norm.channel_id,
            "visibility": norm.visibility,
            "priority": norm.priority or "",
            "is_active": norm.is_active,
        }

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        channel = data["channel"]
        return {
            "name": data["name"],
            "metric": data["metric"],
            "target_minutes": data["target_total_minutes"],
            "clock": data["clock"],
            "channel_id": channel.pk if channel is not None else None,
            "visibility": data["visibility"],
            "priority": data["priority"],
            "is_active": data["is_active"],
        }


__all__ = [
    "WORKING_DAY_MINUTES",
    "ClosedDayForm",
    "OpeningHoursForm",
    "ServiceNormForm",
    "parse_time",
]
