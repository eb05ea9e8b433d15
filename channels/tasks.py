"""Celery tasks of the channels: thin wrappers that take ids and call one service."""

from __future__ import annotations

import contextlib
import functools

import redis
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from channels.models import Channel
from channels.selectors import channel_ids_due_for_poll
from channels.services import channel_poll

# Longer than any poll can take (20 pages x timeout); the lock expires if a worker dies.
POLL_LOCK_SECONDS = 20 * 15 + 60


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="channels.poll_due", ignore_result=True)
def poll_due() -> int:
    due = channel_ids_due_for_poll(now=timezone.now())
    for channel_id in due:
        poll.delay(channel_id)
    return len(due)


@shared_task(name="channels.poll", ignore_result=True)
def poll(channel_id: int) -> None:
    # One poll per channel at a time: two would fetch the same page and race on the cursor.
    lock = _redis().lock(f"webcare:channel-poll:{channel_id}", timeout=POLL_LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return
    try:
        channel_poll(channel_id=channel_id)
    except Channel.DoesNotExist:
        return
    finally:
        # The lock may have expired while we worked; then there is nothing to release.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
