"""Reads of channel data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q

from channels.models import Channel

# How late a poll may start after poll_due enqueued it and still count as on time: see
# channel_ids_due_for_poll. Half of beat's poll_due period (settings.CELERY_BEAT_SCHEDULE).
POLL_START_LEEWAY = timedelta(seconds=0.5)


def channel_ids_due_for_poll(
    *, now: datetime, channel_ids: Iterable[int] | None = None
) -> list[int]:
    """Channels to poll now: active, not paused, and their poll interval has elapsed since
    their last poll started (give or take POLL_START_LEEWAY), in one query.

    The interval counts from the start of the last poll (`channel_poll` records it first),
    and beat asks every second, so a citizen's message waits at most one interval plus a
    second for the poll that fetches it (docs/architecture.md, "Life of a message").
    The leeway: a poll starts a few milliseconds after the check that enqueued it (the
    broker, a free worker), and without it the check one interval later would find the
    channel short of due by those milliseconds and leave it for one more check period. With
    it, two polls of a channel start at least `interval - leeway` apart.
    """
    interval = ExpressionWrapper(
        F("poll_interval_seconds") * timedelta(seconds=1), output_field=DurationField()
    )
    channels = (
        Channel.objects.filter(is_active=True)
        # A channel whose credentials were refused waits for an admin (docs: "needs attention").
        .exclude(health=Channel.Health.NEEDS_ATTENTION)
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
        .alias(next_poll_at=F("last_polled_at") + interval)
        .filter(Q(last_polled_at__isnull=True) | Q(next_poll_at__lte=now + POLL_START_LEEWAY))
    )
    if channel_ids is not None:
        channels = channels.filter(id__in=list(channel_ids))
    return list(channels.order_by("id").values_list("id", flat=True))


def channels_with_health() -> list[Channel]:
    """Every channel, with `open_quarantine` = how many unreadable items wait for an admin."""
    return list(
        Channel.objects.annotate(
            open_quarantine=Count("quarantine", filter=Q(quarantine__resolved_at__isnull=True))
        ).order_by("name")
    )


def channels_failing() -> list[Channel]:
    return list(
        Channel.objects.filter(
            is_active=True,
            health__in=[Channel.Health.FAILING, Channel.Health.NEEDS_ATTENTION],
        )
    )
