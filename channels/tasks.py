"""Celery tasks of the channels: thin wrappers that take ids and call one service."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from celery import shared_task
from django.db import DatabaseError, connection
from django.utils import timezone

from channels.models import Channel
from channels.selectors import channel_ids_due_for_poll
from channels.services import channel_poll

# The first key of the two-key PostgreSQL advisory lock that says "this channel is being
# polled" (the second is the channel id); "WC" keeps it apart from other advisory locks.
POLL_LOCK_NAMESPACE = 0x5743


@shared_task(name="channels.poll_due", ignore_result=True)
def poll_due() -> int:
    """Beat runs this every second (settings.CELERY_BEAT_SCHEDULE): one query, and a poll
    enqueued for each channel whose interval has elapsed (channel_ids_due_for_poll)."""
    due = channel_ids_due_for_poll(now=timezone.now())
    for channel_id in due:
        poll.delay(channel_id, only_if_due=True)
    return len(due)


@shared_task(name="channels.poll", ignore_result=True)
def poll(channel_id: int, only_if_due: bool = False) -> None:
    """Poll the channel now; with `only_if_due` (beat's polls) only if it is still due.

    While the workers are behind, poll_due finds the same channel due at every check and
    enqueues it again and again; the first of those polls records its start, and the others
    find the channel no longer due and do nothing, instead of polling it once per check.
    Polls asked for outside the schedule (a new channel, renewed credentials) run anyway.
    """
    # One poll per channel at a time: two would fetch the same page and race on the cursor.
    with poll_lock(channel_id) as acquired:
        if not acquired:
            return
        if only_if_due and not channel_ids_due_for_poll(
            now=timezone.now(), channel_ids=[channel_id]
        ):
            return
        try:
            channel_poll(channel_id=channel_id)
        except Channel.DoesNotExist:
            return


@contextlib.contextmanager
def poll_lock(channel_id: int) -> Iterator[bool]:
    """Hold the channel's poll lock, if nobody else does (yields whether we got it).

    A session-level PostgreSQL advisory lock, not a Redis lock with a timeout: it belongs to
    this worker's database session, so when the worker dies mid-poll (SIGKILL, out of
    memory, a deploy) PostgreSQL frees it at once and the redelivered task (acks_late,
    reject_on_worker_lost) or the next beat polls again. A Redis lock outlived its holder
    by its whole timeout (minutes without polling that channel; the chaos suite found it).
    If the session itself is dropped mid-poll the lock goes with it and a second poll may
    overlap this one: harmless, ingest skips what it has and stores the cursor with it.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [POLL_LOCK_NAMESPACE, channel_id])
        row = cursor.fetchone()
    acquired = bool(row and row[0])
    try:
        yield acquired
    finally:
        if acquired:
            _poll_unlock(channel_id)


def _poll_unlock(channel_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [POLL_LOCK_NAMESPACE, channel_id])
    except DatabaseError:
        # The session was dropped (and took the lock with it), or cannot run the unlock: end
        # it, so that no lock can outlive this poll in a session kept open for reuse.
        connection.close()
