"""Views of the assignment slice (see inbox/services/assignment.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from inbox.models import Conversation


def conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """What the conversation page needs from this slice."""
    return {}
