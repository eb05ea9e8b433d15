"""Template helpers of the approval and collision detection slice."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from inbox.models import Message
from inbox.selectors.approval import replies_awaiting_approval_count

register = template.Library()


@register.filter
def newest_message_id(thread: Iterable[Message]) -> int:
    """The highest id in the thread the page shows: the composer's `seen_message_id`, and the
    point after which the activity poll reports new messages. Computed from the thread
    already loaded, so it costs no query."""
    return max((message.id for message in thread), default=0)


@register.simple_tag
def approvals_waiting_count() -> int:
    """For the team lead's "Approvals" link in the header."""
    return replies_awaiting_approval_count()
