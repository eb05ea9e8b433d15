"""What every service module shares: the error users see and the audit trail."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User

from inbox.models import (
    AuditEvent,
)

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request that cannot be carried out; the message is shown to the user."""


def audit(
    action: str,
    *,
    actor: User | None = None,
    channel_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    **data: Any,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        channel_id=channel_id,
        conversation_id=conversation_id,
        message_id=message_id,
        data=data,
    )
