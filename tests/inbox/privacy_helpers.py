"""Histories and database snapshots for the retention and anonymisation tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import time_machine
from django.db import connection

from channels.base import SentReply
from channels.models import Channel
from inbox.models import (
    Conversation,
    CycleFact,
    MessageTopic,
    MetricsAgentHour,
    MetricsHour,
    MetricsTagHour,
    MetricsTermDay,
    MetricsTopicHour,
    WaitFact,
)
from inbox.services import (
    conversation_resolve,
    conversation_tag,
    note_create,
    reply_create,
    reply_mark_sent,
)
from tests.inbox.helpers import citizen_writes


def resolved_history(
    channel: Channel,
    agent: Any,
    *,
    at: datetime,
    username: str = "zwaantje1987",
    text: str = "Mijn container in de Zwanenbloemstraat is niet geleegd",
    answered: bool = True,
) -> Conversation:
    """A citizen writes at `at`, is answered ten minutes later, a colleague notes and tags
    it, and it is resolved twenty minutes after the first message."""
    with time_machine.travel(at, tick=False):
        conversation = citizen_writes(channel, username=username, text=text)
    if answered:
        with time_machine.travel(at + timedelta(minutes=10), tick=False):
            reply = reply_create(
                conversation_id=conversation.id,
                actor=agent.user,
                text=f"Dag @{username}, we sturen iemand naar de Zwanenbloemstraat.",
                idempotency_key=uuid.uuid4(),
            )
            reply_mark_sent(message_id=reply.id, sent=SentReply(uuid.uuid4().hex[:12], {}))
            note_create(
                conversation_id=conversation.id,
                actor=agent.user,
                text="Zwanenbloemstraat 12, bewoner belt vaker",
            )
            conversation_tag(conversation_id=conversation.id, actor=agent.user, name="afval")
    with time_machine.travel(at + timedelta(minutes=20), tick=False):
        conversation_resolve(conversation_id=conversation.id, actor=agent.user)
    return Conversation.objects.get(pk=conversation.pk)


def text_of_tables(*, excluding: tuple[str, ...] = ()) -> str:
    """Every text, character and JSON column of every inbox_ and channels_ table, as one
    string: where a citizen's words could be stored."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
            " AND (table_name LIKE 'inbox\\_%%' OR table_name LIKE 'channels\\_%%')"
            " AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
            " ORDER BY table_name, column_name"
        )
        columns = [(table, column) for table, column in cursor.fetchall() if table not in excluding]
        parts: list[str] = []
        for table, column in columns:
            cursor.execute(f'SELECT "{column}"::text FROM "{table}"')  # noqa: S608
            parts.extend(f"{table}.{column}: {value}" for (value,) in cursor.fetchall() if value)
    return "\n".join(parts)


_METRICS_TABLES = (
    WaitFact,
    CycleFact,
    MetricsHour,
    MetricsAgentHour,
    MetricsTagHour,
    MetricsTopicHour,
    MetricsTermDay,
    MessageTopic,
)


def metrics_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the dashboard's facts and rollups, without their surrogate ids."""
    snapshot = {}
    for model in _METRICS_TABLES:
        fields = [field.attname for field in model._meta.concrete_fields if field.attname != "id"]
        snapshot[model.__name__] = sorted(
            model.objects.values_list(*fields), key=lambda row: tuple(str(value) for value in row)
        )
    return snapshot
