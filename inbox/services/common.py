"""What every service module shares: the error users see and the audit trail."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from celery import Task
from django.contrib.auth.models import User
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from inbox.models import (
    AuditEvent,
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


def metrics_mark_changed(conversation_ids: Iterable[int]) -> None:
    """Note, in the caller's transaction, that these conversations' facts and rollups must be
    rebuilt; the refresh task (services.metrics_refresh) does it within seconds."""
    MetricsDirtyConversation.objects.bulk_create(
        MetricsDirtyConversation(conversation_id=conversation_id)
        for conversation_id in set(conversation_ids)
    )
