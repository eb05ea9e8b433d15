"""Reads of channel data."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q

from channels.models import Channel


def channel_ids_due_for_poll(*, now: datetime) -> list[int]:
    # A channel whose credentials were refused waits for an admin (docs: "needs attention").
    channels = (
        Channel.objects.filter(is_active=True)
        .exclude(health=Channel.Health.NEEDS_ATTENTION)
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
    )
    return [
        channel.id
        for channel in channels.only("id", "last_polled_at", "poll_interval_seconds")
        if channel.last_polled_at is None
        or channel.last_polled_at + timedelta(seconds=channel.poll_interval_seconds) <= now
    ]


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
