"""Reads of the conversation pane: the thread and the header's state, each a fixed number
of queries so that the pane's partials (refreshed on `webcare:refresh`) stay cheap."""

from __future__ import annotations

from dataclasses import dataclass

from inbox.models import Conversation, Message, Note
from inbox.selectors.lifecycle import conversation_notes


@dataclass(frozen=True)
class Thread:
    """Messages and internal notes, each oldest first; the template interleaves them
    (`thread|with_notes:thread_notes`)."""

    messages: list[Message]
    notes: list[Note]


def thread_messages(conversation: Conversation) -> list[Message]:
    """The messages, oldest first, with their authors: one query."""
    return list(
        conversation.messages.select_related("author_user", "author_contact").order_by(
            "sent_at", "id"
        )
    )


def conversation_thread(conversation: Conversation) -> Thread:
    """Two queries, however long the thread."""
    return Thread(messages=thread_messages(conversation), notes=conversation_notes(conversation))


def conversation_with_state(conversation_id: int) -> Conversation:
    """The conversation with what its header shows (status, assignee, priority, team)."""
    return Conversation.objects.select_related("contact", "channel", "assignee", "team").get(
        id=conversation_id
    )
