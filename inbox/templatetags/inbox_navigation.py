"""`{% return_to_field %}`: the hidden field that brings a pane's form back to the inbox
(inbox/navigation.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from inbox.navigation import RETURN_TO_FIELD, return_to_for

register = template.Library()


@register.simple_tag(takes_context=True)
def return_to_field(context: template.Context, conversation_id: Any = None) -> SafeString | str:
    request = context.get("request")
    if conversation_id is None:
        conversation = context.get("conversation")
        message = context.get("message")
        conversation_id = getattr(conversation, "id", None) or getattr(
            message, "conversation_id", None
        )
    if request is None or conversation_id is None:
        return ""
    url = return_to_for(request, int(conversation_id))
    if not url:
        return ""
    return format_html('<input type="hidden" name="{}" value="{}">', RETURN_TO_FIELD, url)
