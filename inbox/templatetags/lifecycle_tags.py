"""Template filters of the lifecycle slice, so that the conversation page reuses the lists
its view already read (the messages, the citizen's other conversations) instead of reading
them again."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from inbox.models import Conversation, Message, Note
from inbox.selectors.lifecycle import ThreadItem, is_mergeable, thread_interleaved

register = template.Library()


@register.filter
def with_notes(messages: Iterable[Message], notes: Iterable[Note] | None) -> list[ThreadItem]:
    """`{% for item in thread|with_notes:thread_notes %}`: messages and notes in time order."""
    return thread_interleaved(messages, notes or [])


@register.filter
def mergeable_for(others: Iterable[Conversation], conversation: Conversation) -> list[Conversation]:
    """The conversations among `others` that `conversation` can be merged into."""
    return [other for other in others if is_mergeable(conversation, other)]
