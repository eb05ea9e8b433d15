"""Routing: which team a new conversation goes to, and with which priority."""

from __future__ import annotations

from inbox.models import Conversation, Team


def route_new_conversation(conversation: Conversation, first_text: str) -> None:
    """Give a new conversation its team and priority. The caller saves nothing: this does."""
    default_team = Team.objects.filter(is_default=True).first()
    if default_team is not None:
        conversation.team = default_team
        conversation.save(update_fields=["team"])
