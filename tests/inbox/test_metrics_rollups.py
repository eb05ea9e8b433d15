"""The hourly rollups (MetricsHour, MetricsAgentHour, MetricsTagHour) agree with a direct
computation from the messages and care cycles, on random histories made through the
services, however the refreshes fall in between (services/metrics.py; docs/metrics.md,
"Counts")."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channels.base import SentReply
from inbox.models import (
    CareCycle,
    Conversation,
    ConversationTag,
    CycleFact,
    Message,
    MetricsAgentHour,
    MetricsHour,
    MetricsTagHour,
    WaitFact,
)
from inbox.services import (
    ServiceError,
    conversation_resolve,
    conversation_tag,
    conversation_transfer,
    metrics_rebuild_all,
    metrics_refresh,
    reply_create,
    reply_mark_failed,
    reply_mark_sent,
    team_create,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 14, 10, tzinfo=UTC)

ACTIONS = (
    "write",
    "write",
    "write",
    "reply",
    "reply",
    "reply_private",
    "compose",
    "deliver",
    "fail",
    "resolve",
    "tag",
    "transfer",
    "refresh",
)

steps_strategy = st.lists(
    st.tuples(
        # Minutes since the previous step: often the same moment, sometimes hours later.
        st.sampled_from([0, 0, 1, 7, 25, 50, 130, 600]),
        st.sampled_from(ACTIONS),
        st.integers(min_value=0, max_value=1),
        st.booleans(),
    ),
    min_size=1,
    max_size=14,
)


def _hour(moment: Any) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _play(steps: list[tuple[int, str, int, bool]], agents: list[Any], team_id: int) -> None:
    """Carry out the steps through the services; steps that make no sense are refused by
    them (ServiceError) and skipped, as a user would see."""
    now = START
    pending: list[int] = []
    for minutes, action, index, flag in steps:
        now += timedelta(minutes=minutes)
        actor = agents[flag]
        with time_machine.travel(now, tick=False):
            conversation = Conversation.objects.filter(external_thread_id=f"t{index}").first()
            if action == "refresh":
                metrics_refresh()
                continue
            if action == "write":
                citizen_writes(
                    ChannelHolder.channel, thread=f"t{index}", username=f"u{index}", private=flag
                )
                continue
            if conversation is None:
                continue
            try:
                if action in {"reply", "reply_private", "compose"}:
                    message = reply_create(
                        conversation_id=conversation.id,
                        actor=actor,
                        text="Dank voor uw bericht.",
                        idempotency_key=uuid.uuid4(),
                        private=action == "reply_private",
                    )
                    if action == "compose":
                        pending.append(message.id)
                    else:
                        reply_mark_sent(
                            message_id=message.id, sent=SentReply(uuid.uuid4().hex[:12], {})
                        )
                elif action in {"deliver", "fail"} and pending:
                    message_id = pending.pop(0)
                    if action == "deliver":
                        reply_mark_sent(
                            message_id=message_id, sent=SentReply(uuid.uuid4().hex[:12], {})
                        )
                    else:
                        reply_mark_failed(message_id=message_id, error="503")
                elif action == "resolve":
                    conversation_resolve(conversation_id=conversation.id, actor=actor)
                elif action == "tag":
                    conversation_tag(
                        conversation_id=conversation.id, actor=actor, name=f"tag{int(flag)}"
                    )
                elif action == "transfer":
                    conversation_transfer(
                        conversation_id=conversation.id,
                        actor=agents[2],
                        to_team_id=team_id if flag else None,
                        to_user_id=None if flag else agents[0].pk,
                    )
            except (ServiceError, PermissionDenied):
                pass


class ChannelHolder:
    channel: Any = None


# --- the direct computation -----------------------------------------------------------------


def _cycle_of(cycles: list[CareCycle], moment: datetime) -> CareCycle | None:
    containing = [
        cycle
        for cycle in cycles
        if cycle.started_at <= moment and (cycle.resolved_at is None or moment < cycle.resolved_at)
    ]
    if containing:
        return max(containing, key=lambda cycle: (cycle.started_at, cycle.number))
    before = [cycle for cycle in cycles if cycle.started_at <= moment]
    if before:
        return max(before, key=lambda cycle: (cycle.started_at, cycle.number))
    return min(cycles, key=lambda cycle: cycle.number) if cycles else None


def _expected() -> tuple[dict, dict, dict]:
    """Every rollup row, computed plainly from Message, CareCycle and ConversationTag.

    A citizen message is "consumed" by the first of: a sent reply composed at or after it
    (in order of delivery, then composition, then id), or the resolution of its care cycle
    at or after it. Messages consumed by the same event form one wait, which started at the
    earliest of them; those not consumed form the running wait.
    """
    conversations = {c.id: c for c in Conversation.objects.all()}
    tags: dict[int, list[int]] = {}
    for conversation_id, tag_id in ConversationTag.objects.values_list("conversation_id", "tag_id"):
        tags.setdefault(conversation_id, []).append(tag_id)
    hour_rows: Counter = Counter()
    agent_rows: Counter = Counter()
    tag_rows: Counter = Counter()

    def add_hour(moment: Any, conversation: Conversation, column: str) -> None:
        hour_rows[(_hour(moment), conversation.channel_id, conversation.team_id, column)] += 1

    for conversation in conversations.values():
        cycles = list(CareCycle.objects.filter(conversation=conversation))
        messages = list(conversation.messages.order_by("sent_at", "id"))
        inbound = [m for m in messages if m.direction == Message.Direction.INBOUND]
        sent = [
            m
            for m in messages
            if m.direction == Message.Direction.OUTBOUND
            and m.delivery_status == Message.DeliveryStatus.SENT
        ]
        waits: dict[Any, list[datetime]] = {}
        for message in inbound:
            add_hour(message.sent_at, conversation, "messages_in")
            if message.is_private:
                add_hour(message.sent_at, conversation, "messages_in_private")
            for tag_id in tags.get(conversation.id, []):
                tag_rows[
                    (_hour(message.sent_at), tag_id, conversation.channel_id, "messages_in")
                ] += 1
            candidates = [
                ((reply.delivered_at, 0, reply.sent_at, reply.id), "reply")
                for reply in sent
                if reply.sent_at >= message.sent_at
            ]
            cycle = _cycle_of(cycles, message.sent_at)
            if cycle is not None and cycle.resolved_at and message.sent_at <= cycle.resolved_at:
                candidates.append(((cycle.resolved_at, 1, cycle.started_at, cycle.id), "resolved"))
            consumer: Any = min(candidates) if candidates else None
            if consumer is not None and consumer[1] == "reply":
                add_hour(message.sent_at, conversation, "messages_answered")
            waits.setdefault(consumer, []).append(message.sent_at)
        for consumer, started in waits.items():
            add_hour(min(started), conversation, "waits_started")
            if consumer is not None:
                add_hour(consumer[0][0], conversation, "waits_ended")
        for reply in sent:
            add_hour(reply.delivered_at, conversation, "replies_sent")
            if reply.is_private:
                add_hour(reply.delivered_at, conversation, "replies_sent_private")
            if reply.author_user_id is not None:
                for column in ["replies_sent"] + (
                    ["replies_sent_private"] if reply.is_private else []
                ):
                    key = (_hour(reply.delivered_at), reply.author_user_id, conversation.channel_id)
                    agent_rows[(*key, column)] += 1
        for cycle in cycles:
            add_hour(cycle.started_at, conversation, "cycles_started")
            if cycle.number == 1:
                add_hour(cycle.started_at, conversation, "conversations_new")
            for tag_id in tags.get(conversation.id, []):
                key = (_hour(cycle.started_at), tag_id, conversation.channel_id)
                tag_rows[(*key, "cycles_started")] += 1
            if cycle.resolved_at is not None:
                add_hour(cycle.resolved_at, conversation, "cycles_resolved")
                if cycle.resolved_by_id is not None:
                    key = (_hour(cycle.resolved_at), cycle.resolved_by_id, conversation.channel_id)
                    agent_rows[(*key, "cycles_resolved")] += 1
    return _rows(hour_rows), _rows(agent_rows), _rows(tag_rows)


def _rows(counts: Counter) -> dict:
    rows: dict = {}
    for (*key, column), count in counts.items():
        rows.setdefault(tuple(key), {})[column] = count
    return rows


HOUR_COLUMNS = [
    "messages_in",
    "messages_in_private",
    "messages_answered",
    "replies_sent",
    "replies_sent_private",
    "conversations_new",
    "cycles_started",
    "cycles_resolved",
    "waits_started",
    "waits_ended",
]
AGENT_COLUMNS = ["replies_sent", "replies_sent_private", "cycles_resolved"]
TAG_COLUMNS = ["messages_in", "cycles_started"]


def _stored(model: Any, key_fields: list[str], columns: list[str]) -> dict:
    rows = {}
    for values in model.objects.values(*key_fields, *columns):
        key = tuple(_hour(values[f]) if f == "hour" else values[f] for f in key_fields)
        rows[key] = {column: values[column] for column in columns if values[column]}
        assert rows[key], f"an all-zero row {key}"
    return rows


def _actual() -> tuple[dict, dict, dict]:
    return (
        _stored(MetricsHour, ["hour", "channel_id", "team_id"], HOUR_COLUMNS),
        _stored(MetricsAgentHour, ["hour", "agent_id", "channel_id"], AGENT_COLUMNS),
        _stored(MetricsTagHour, ["hour", "tag_id", "channel_id"], TAG_COLUMNS),
    )


def _facts() -> list[tuple]:
    waits = WaitFact.objects.order_by("conversation_id", "started_at").values_list(
        "conversation_id", "started_at", "ended_at", "outcome", "working_seconds", "responder_id"
    )
    cycles = CycleFact.objects.order_by("conversation_id", "number").values_list(
        "conversation_id", "number", "first_response_at", "resolved_at"
    )
    return [*waits, *cycles]


@settings(
    max_examples=int(os.environ.get("METRICS_EXAMPLES", "20")),
    deadline=None,
    # The fixtures are set up once; every example rolls its own data back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps_strategy)
# The edges, always tried: a reply at the very moment of the message it answers; a message
# between pressing send and delivery; a message at the moment of a resolution; a transfer
# moving counted history to another team; a reply after the resolution.
@example(steps=[(0, "write", 0, False), (0, "reply", 0, False)])
@example(
    steps=[
        (0, "write", 0, False),
        (7, "compose", 0, False),
        (1, "write", 0, True),
        (50, "deliver", 0, False),
        (0, "refresh", 0, False),
        (0, "tag", 0, True),
    ]
)
@example(
    steps=[
        (0, "write", 1, False),
        (25, "resolve", 1, False),
        (0, "write", 1, False),
        (0, "reply", 1, True),
        (0, "refresh", 0, False),
        (130, "transfer", 1, True),
        (0, "resolve", 1, True),
        (0, "reply", 1, False),
    ]
)
def test_the_rollups_equal_a_direct_computation_and_a_rebuild_changes_nothing(
    channel, agent, second_agent, team_lead, steps
):
    ChannelHolder.channel = channel
    savepoint = transaction.savepoint()
    try:
        team = team_create(actor=team_lead.user, name=f"Team {uuid.uuid4().hex[:6]}")
        _play(steps, [agent.user, second_agent.user, team_lead.user], team.pk)
        metrics_refresh()

        assert _actual() == _expected()

        facts = _facts()
        metrics_rebuild_all()
        assert _facts() == facts
        assert _actual() == _expected()
    finally:
        transaction.savepoint_rollback(savepoint)
