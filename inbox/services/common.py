"""What every service module shares: the error users see and the audit trail."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from psycopg2.extras import Json

from inbox.models import (
    AuditEvent,
    Conversation,
    MetricsDirtyConversation,
)

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request that cannot be carried out; the message is shown to the user."""


def task_send_on_commit(task: Task, *args: Any, countdown: float = 0, otherwise: str) -> None:
    """Hand `task` to the broker once the current transaction has committed.

    When the broker is unreachable the work is not lost: it is in the database, and the
    periodic task named in `otherwise` finds it. Raising would report committed work as
    failed (a poll that stored messages as a failed poll, a stored reply as an error in the
    composer); the chaos suite found all three."""
    # A partial, not a lambda: tests can see which task a commit will send.
    transaction.on_commit(
        functools.partial(task_send, task, *args, countdown=countdown, otherwise=otherwise)
    )


def task_send(task: Task, *args: Any, countdown: float = 0, otherwise: str) -> None:
    try:
        task.apply_async(args, countdown=countdown)
    except KombuOperationalError:
        logger.warning("Broker unreachable: %s%r waits for %s.", task.name, args, otherwise)


def audit(
    action: str,
    *,
    actor: User | None = None,
    channel_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    **data: Any,
) -> AuditEvent:
    event = AuditEvent.objects.create(
        action=action,
        actor=actor,
        channel_id=channel_id,
        conversation_id=conversation_id,
        message_id=message_id,
        data=data,
    )
    if conversation_id is not None:
        # Every change of a conversation is audited, so this one line keeps the dashboard's
        # facts and rollups in step with all of them (services/metrics.py).
        metrics_mark_changed([conversation_id])
    return event


@dataclass
class BatchAuditEvent:
    """An audit event that a batch (ingest's poll of a hundred messages) builds before the
    rows it names have ids: `conversation` may be saved later, `message_id` set later.
    `audit_events_save` writes them; `data` is what `audit`'s keyword arguments would be."""

    action: str
    channel_id: int | None = None
    conversation: Conversation | None = None
    message_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


# One statement for the events and their metrics marks (`metrics_mark_changed`): every
# conversation an event names, and those in `also_changed`.
_AUDIT_BATCH_INSERT = """
WITH event AS (
    INSERT INTO inbox_auditevent (created_at, action, channel_id, conversation_id, message_id, data)
    VALUES {rows}
    RETURNING conversation_id
)
INSERT INTO inbox_metricsdirtyconversation (conversation_id, created_at)
SELECT DISTINCT changed.conversation_id, %s::timestamptz
FROM (
    SELECT conversation_id FROM event
    UNION SELECT unnest(%s::bigint[])
) AS changed
WHERE changed.conversation_id IS NOT NULL
"""


def audit_events_save(
    events: Sequence[BatchAuditEvent], *, also_changed: Iterable[int] = ()
) -> None:
    """Write a batch's audit events in one INSERT, in the caller's transaction like `audit`,
    with one metrics mark per conversation they, or `also_changed`, concern. The system acts
    in a batch: no actor."""
    changed = set(also_changed)
    if not events and not changed:
        return
    now = timezone.now()
    rows = [
        (
            now,
            event.action,
            event.channel_id,
            event.conversation.pk if event.conversation is not None else None,
            event.message_id,
            Json(event.data),
        )
        for event in events
    ]
    with connection.cursor() as cursor:
        if rows:
            cursor.execute(
                _AUDIT_BATCH_INSERT.format(
                    rows=", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
                ),
                [*(value for row in rows for value in row), now, list(changed)],
            )
        else:
            metrics_mark_changed(changed)


def metrics_mark_changed(conversation_ids: Iterable[int]) -> None:
    """Note, in the caller's transaction, that these conversations' facts and rollups must be
    rebuilt; the refresh task (services.metrics_refresh) does it within seconds."""
    MetricsDirtyConversation.objects.bulk_create(
        MetricsDirtyConversation(conversation_id=conversation_id)
        for conversation_id in set(conversation_ids)
    )
