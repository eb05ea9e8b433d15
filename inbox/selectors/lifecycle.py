"""Reads of the lifecycle slice: notes in the thread, mentions, tags, merge candidates
(docs/architecture.md, "Conversation lifecycle")."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef

from inbox.models import Conversation, ConversationTag, Message, Note, NoteMention, Tag

# Unread mentions listed in the inbox; older ones wait until these are read.
MENTIONS_PAGE_SIZE = 50
# Existing tags offered in the tag field's datalist.
TAG_SUGGESTIONS_LIMIT = 200
# The citizen's other conversations offered as merge targets.
MERGE_CANDIDATES_LIMIT = 10


def conversation_notes(conversation: Conversation) -> list[Note]:
    """The conversation's internal notes, oldest first."""
    return list(
        Note.objects.filter(conversation=conversation)
        .select_related("author")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class ThreadItem:
    """A message or an internal note in the thread, at its moment."""

    at: datetime
    message: Message | None = None
    note: Note | None = None

    @property
    def is_note(self) -> bool:
        return self.note is not None


def thread_interleaved(messages: Iterable[Message], notes: Iterable[Note]) -> list[ThreadItem]:
    """Messages (by sent_at) and notes (by created_at), both already in order, merged in
    time order; a note written at the same moment as a message comes after it."""
    message_items = (ThreadItem(at=message.sent_at, message=message) for message in messages)
    note_items = (ThreadItem(at=note.created_at, note=note) for note in notes)
    return list(heapq.merge(message_items, note_items, key=lambda item: item.at))


def conversation_thread(conversation: Conversation) -> list[ThreadItem]:
    """Messages and notes in time order, in two queries."""
    messages = conversation.messages.select_related("author_user", "author_contact").order_by(
        "sent_at", "id"
    )
    return thread_interleaved(messages, conversation_notes(conversation))


def mentions_unread_for(user: User) -> list[NoteMention]:
    """Notes that mention `user` and that they have not seen yet, newest first."""
    return list(
        NoteMention.objects.filter(user=user, read_at__isnull=True)
        .select_related("note__author", "note__conversation__contact")
        .order_by("-note__created_at", "-id")[:MENTIONS_PAGE_SIZE]
    )


@dataclass(frozen=True)
class TagOverview:
    """The conversation's tags, and every tag's name for the add field's suggestions."""

    on_conversation: list[Tag]
    suggestions: list[str]


def conversation_tags(conversation: Conversation) -> list[Tag]:
    return list(
        Tag.objects.filter(
            id__in=ConversationTag.objects.filter(conversation=conversation).values("tag_id")
        ).order_by("name")
    )


def tag_overview(conversation: Conversation) -> TagOverview:
    """Both in one query: every tag, marked when it is on this conversation. The tags on
    the conversation are always included, however many tags there are."""
    on_conversation = ConversationTag.objects.filter(conversation=conversation, tag=OuterRef("pk"))
    tags = list(
        Tag.objects.annotate(on_conversation=Exists(on_conversation)).order_by(
            "-on_conversation", "name"
        )[:TAG_SUGGESTIONS_LIMIT]
    )
    return TagOverview(
        on_conversation=sorted(
            (tag for tag in tags if tag.on_conversation),
            key=lambda tag: tag.name.lower(),
        ),
        suggestions=sorted(
            (tag.name for tag in tags if not tag.on_conversation),
            key=str.lower,
        ),
    )


def tag_suggestions(query: str = "") -> list[str]:
    """Existing tag names (starting with `query`, any case), for a datalist."""
    tags = Tag.objects.order_by("name")
    if query.strip():
        tags = tags.filter(name__istartswith=query.strip())
    return list(tags.values_list("name", flat=True)[:TAG_SUGGESTIONS_LIMIT])


def is_mergeable(conversation: Conversation, other: Conversation) -> bool:
    """Whether `conversation` can be merged into `other` (the rule of merge_candidates)."""
    return (
        other.id != conversation.id
        and other.contact_id == conversation.contact_id
        and other.is_private == conversation.is_private
        and other.merged_into_id is None
    )


def merge_candidates(conversation: Conversation) -> list[Conversation]:
    """The citizen's other conversations this one can be merged into: same contact (so the
    same channel), both public or both private, not merged away themselves; most recently
    active first."""
    return list(
        Conversation.objects.filter(
            contact_id=conversation.contact_id,
            is_private=conversation.is_private,
            merged_into__isnull=True,
        )
        .exclude(id=conversation.id)
        .order_by("-last_activity_at", "-id")[:MERGE_CANDIDATES_LIMIT]
    )
