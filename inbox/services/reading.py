"""When staff read conversations: the inbox's unread markers (inbox.selectors.inbox)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils import timezone

from inbox.models import ConversationReadState

__all__ = ["conversation_mark_read"]


def conversation_mark_read(*, actor: User, conversation_id: int) -> None:
    """The actor opened the conversation (its page, or the inbox's third pane): it is read
    for them until the next citizen message arrives.

    One INSERT … ON CONFLICT (user, conversation) DO UPDATE, atomic by itself, so two tabs
    opening it at once cannot collide. No audit event, on purpose: reading changes nothing
    about the conversation, and an event for every open would flood the audit log with
    rows nobody needs. It is still a service, so that there is one path for the write.
    """
    ConversationReadState.objects.bulk_create(
        [
            ConversationReadState(
                user=actor, conversation_id=conversation_id, read_at=timezone.now()
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "conversation"],
        update_fields=["read_at"],
    )
