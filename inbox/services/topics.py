"""STUB (issue 6, topics): topic rules, the topics of citizen messages, and the topic and
term rollups. The metrics refresh (services/metrics.py) calls the two hooks below inside its
transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

__all__ = ["topic_rollups_rebuild", "topics_refresh_for_conversations"]


def topics_refresh_for_conversations(conversation_ids: Collection[int]) -> None:
    """Rebuild MessageTopic rows of these conversations' citizen messages."""


def topic_rollups_rebuild(hours: Collection[datetime]) -> None:
    """Rebuild MetricsTopicHour for these UTC hours and MetricsTermDay for the Amsterdam days
    they fall in."""
