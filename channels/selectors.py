"""Reads of channel data."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from channels.models import Channel


def channel_ids_due_for_poll(*, now: datetime) -> list[int]:
    channels = Channel.objects.filter(is_active=True).filter(
        Q(paused_until__isnull=True) | Q(paused_until__lte=now)
    )
    return [
        channel.id
        for channel in channels.only("id", "last_polled_at", "poll_interval_seconds")
        if channel.last_polled_at is None
        or channel.last_polled_at + timedelta(seconds=channel.poll_interval_seconds) <= now
    ]


def channels_with_health() -> list[Channel]:
    return list(Channel.objects.order_by("name"))


def channels_failing() -> list[Channel]:
    return list(Channel.objects.filter(is_active=True, health=Channel.Health.FAILING))
