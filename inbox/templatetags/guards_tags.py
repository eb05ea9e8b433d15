"""The guards in templates: the flags' labels, the suggested answers, the municipality's own
contact details for the composer's script (inbox/guards.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import template
from django.conf import settings

from inbox import guards
from inbox.models import Conversation, Message

register = template.Library()


@register.filter
def personal_data_labels(kinds: Iterable[str]) -> str:
    """A message's personal_data_kinds in words: "BSN, phone number"."""
    return ", ".join(str(guards.PERSONAL_DATA_KIND_LABELS.get(kind, kind)) for kind in kinds)


@register.filter
def formal_request_labels(kinds: Iterable[str]) -> str:
    """A message's formal_request_kinds in words: "objection, complaint"."""
    return ", ".join(str(guards.FORMAL_REQUEST_KIND_LABELS.get(kind, kind)) for kind in kinds)


@register.simple_tag
def public_contact_details_json() -> str:
    """The list the composer's script leaves unflagged, as the server does."""
    return json.dumps(list(settings.WEBCARE_PUBLIC_CONTACT_DETAILS))


@dataclass(frozen=True)
class ComposerSuggestions:
    suggestions: list[guards.Suggestion]
    # Without JavaScript the suggestion's button reloads the page with ?suggest=KEY: the
    # composer then starts with that text.
    prefill: str


@register.simple_tag(takes_context=True)
def guard_suggestions(
    context: Any, thread: Iterable[Message], conversation: Conversation
) -> ComposerSuggestions:
    """Suggested answers for the citizen's flagged messages since our last reply: computed
    from the thread already loaded, so no query."""
    unanswered: list[Message] = []
    for message in thread:
        if message.direction == Message.Direction.OUTBOUND:
            unanswered = []
        else:
            unanswered.append(message)
    keys = guards.suggestion_keys(unanswered)
    request = context.get("request")
    user = getattr(request, "user", None)
    if not keys or user is None:
        return ComposerSuggestions(suggestions=[], prefill="")
    suggestions = guards.suggestions_for(keys=keys, contact=conversation.contact, agent=user)
    wanted = request.GET.get("suggest", "") if request is not None else ""
    prefill = next((item.text for item in suggestions if item.key == wanted), "")
    return ComposerSuggestions(suggestions=suggestions, prefill=prefill)
