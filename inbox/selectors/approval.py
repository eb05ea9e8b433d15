"""Reads of the four-eyes approval and collision detection slice: the team lead's approval
queue, flagged words, and which messages arrived after an agent opened a conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from inbox.models import Conversation, FlaggedWord, Message

# Replies listed on the approvals page; beyond that the heading says how many there are.
APPROVAL_PAGE_SIZE = 50

# How approval_reason is stored (English, for the audit trail and the API): "in training",
# "flagged word: a, b", or both separated by "; ".
REASON_IN_TRAINING = "in training"
REASON_FLAGGED_PREFIX = "flagged word: "
REASON_SEPARATOR = "; "


def approval_reason_label(reason: str) -> str:
    """The stored reason in the reader's language."""
    labels = []
    for part in reason.split(REASON_SEPARATOR):
        if part == REASON_IN_TRAINING:
            labels.append(_("the author is in training"))
        elif part.startswith(REASON_FLAGGED_PREFIX):
            labels.append(
                _("flagged word: %(words)s") % {"words": part.removeprefix(REASON_FLAGGED_PREFIX)}
            )
        elif part:
            labels.append(part)
    return "; ".join(labels)


@dataclass
class ApprovalItem:
    """One reply waiting for a team lead, with what the lead needs to judge it."""

    message: Message
    reason: str
    citizen_last_text: str | None
    citizen_last_sent_at: datetime | None
    # The text in the edit field: the draft, or what the lead typed when approving failed.
    text: str
    error: str = ""
    feedback_error: str = ""


def replies_awaiting_approval(*, limit: int = APPROVAL_PAGE_SIZE) -> list[ApprovalItem]:
    """The approval queue, oldest first, in one query: the reply, its author, the
    conversation with contact and channel, and the citizen's last message."""
    last_inbound = Message.objects.filter(
        conversation=OuterRef("conversation_id"), direction=Message.Direction.INBOUND
    ).order_by("-sent_at", "-id")
    messages = (
        Message.objects.filter(delivery_status=Message.DeliveryStatus.AWAITING_APPROVAL)
        .select_related("author_user", "conversation__contact", "conversation__channel")
        .annotate(
            citizen_last_text=Subquery(last_inbound.values("text")[:1]),
            citizen_last_sent_at=Subquery(last_inbound.values("sent_at")[:1]),
        )
        .order_by("created_at", "id")[:limit]
    )
    return [
        ApprovalItem(
            message=message,
            reason=approval_reason_label(message.approval_reason),
            citizen_last_text=message.citizen_last_text,
            citizen_last_sent_at=message.citizen_last_sent_at,
            text=message.text,
        )
        for message in messages
    ]


def replies_awaiting_approval_count() -> int:
    # Served by the partial index message_awaiting_approval_idx.
    return Message.objects.filter(delivery_status=Message.DeliveryStatus.AWAITING_APPROVAL).count()


def reply_awaits_approval(message_id: int) -> bool:
    return Message.objects.filter(
        id=message_id, delivery_status=Message.DeliveryStatus.AWAITING_APPROVAL
    ).exists()


def conversation_for_activity(conversation_id: int) -> Conversation | None:
    """Just the id: the activity poll runs every 2 s per open page and needs nothing else."""
    return Conversation.objects.filter(id=conversation_id).only("id").first()


def flagged_words() -> list[FlaggedWord]:
    return list(FlaggedWord.objects.order_by("word"))


def messages_since_seen(
    *, conversation_id: int, seen_message_id: int, viewer_id: int
) -> QuerySet[Message]:
    """Messages that arrived in the conversation after `seen_message_id`, oldest first, that
    the viewer has not written: the citizen's, a colleague's reply (also one waiting for
    approval), and replies made outside Webcare. Ids grow with every stored message, so
    "after" is by id, whatever time the platform gave the message."""
    return (
        Message.objects.filter(conversation_id=conversation_id, id__gt=seen_message_id)
        .filter(
            Q(direction=Message.Direction.INBOUND)
            | Q(author_user__isnull=True)
            | ~Q(author_user_id=viewer_id)
        )
        .exclude(delivery_status=Message.DeliveryStatus.REJECTED)
        .select_related("author_contact", "author_user")
        .order_by("id")
    )


def staff_names(user_ids: list[int]) -> dict[int, str]:
    """Display names of colleagues, by id (full name, else username)."""
    if not user_ids:
        return {}
    users = User.objects.filter(id__in=user_ids).only("id", "username", "first_name", "last_name")
    return {user.pk: user.get_full_name() or user.username for user in users}
