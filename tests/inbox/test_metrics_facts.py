"""Waits and care-cycle figures (inbox/metrics/facts.py, docs/metrics.md "Waits" and "Care
cycles"): hand-computed scenarios, set up through the services with frozen time, then one
refresh (services.metrics_refresh)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from channels.base import FetchResult, PlatformAuthor, PlatformMessage, SentReply
from inbox.metrics.facts import (
    Assignment,
    ConversationHistory,
    Cycle,
    InboundMessage,
    conversation_facts,
)
from inbox.metrics.facts import SentReply as SentFact
from inbox.metrics.working_time import AMSTERDAM, DEFAULT_CALENDAR
from inbox.models import Conversation, CycleFact, Message, WaitFact
from inbox.services import (
    conversation_resolve,
    conversation_take,
    conversation_transfer,
    conversations_merge,
    messages_ingest,
    metrics_refresh,
    reply_approve,
    reply_create,
    reply_mark_failed,
    reply_mark_sent,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

MINUTE = 60
HOUR = 3600


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock moment in Amsterdam, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


def at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


def compose(conversation: Conversation, actor, *, private: bool = False) -> Message:  # type: ignore[no-untyped-def]
    return reply_create(
        conversation_id=conversation.id,
        actor=actor,
        text="We kijken ernaar.",
        idempotency_key=uuid.uuid4(),
        private=private,
    )


def deliver(message: Message) -> Message:
    return reply_mark_sent(
        message_id=message.id, sent=SentReply(f"sent-{uuid.uuid4().hex[:10]}", {})
    )


def reply_sent(conversation: Conversation, actor, *, private: bool = False) -> Message:  # type: ignore[no-untyped-def]
    return deliver(compose(conversation, actor, private=private))


def waits(conversation: Conversation) -> list[WaitFact]:
    metrics_refresh()
    return list(WaitFact.objects.filter(conversation=conversation).order_by("started_at"))


def cycles(conversation: Conversation) -> list[CycleFact]:
    metrics_refresh()
    return list(CycleFact.objects.filter(conversation=conversation).order_by("number"))


# --- working time ---------------------------------------------------------------------------


def test_a_first_response_across_a_weekend_counts_only_opening_hours(channel, agent):
    written = local(2026, 11, 20, 16, 30)  # Friday
    answered = local(2026, 11, 23, 9, 0)  # Monday
    with at(written):
        conversation = citizen_writes(channel)
    with at(answered):
        reply_sent(conversation, agent.user)

    [wait] = waits(conversation)
    [cycle] = cycles(conversation)

    assert wait.outcome == WaitFact.Outcome.ANSWERED
    assert (wait.started_at, wait.ended_at) == (written, answered)
    assert wait.calendar_seconds == 64 * HOUR + 30 * MINUTE
    # Friday 16:30-17:00 and Monday 08:30-09:00.
    assert wait.working_seconds == 60 * MINUTE
    assert wait.is_first_in_cycle
    assert wait.responder == agent.user
    assert cycle.first_response_at == answered
    assert cycle.first_responder == agent.user
    assert cycle.first_response_calendar_seconds == 64 * HOUR + 30 * MINUTE
    assert cycle.first_response_working_seconds == 60 * MINUTE
    assert cycle.resolved_at is None
    assert cycle.resolution_working_seconds is None


@pytest.mark.parametrize(
    ("written", "answered", "working_minutes"),
    [
        # Thursday before Christmas 16:00 to Monday 09:00: Christmas (Friday) is closed.
        (local(2026, 12, 24, 16, 0), local(2026, 12, 28, 9, 0), 60 + 30),
        # Friday 16:30 to Tuesday 09:00 over King's Day (Monday 27 April 2026).
        (local(2026, 4, 24, 16, 30), local(2026, 4, 28, 9, 0), 30 + 30),
    ],
    ids=["christmas", "kings-day"],
)
def test_public_holidays_are_not_working_time(channel, agent, written, answered, working_minutes):
    with at(written):
        conversation = citizen_writes(channel)
    with at(answered):
        reply_sent(conversation, agent.user)

    [wait] = waits(conversation)

    assert wait.working_seconds == working_minutes * MINUTE
    assert wait.calendar_seconds == (answered - written).total_seconds()


# --- care cycles and next responses ---------------------------------------------------------


def test_a_reopen_starts_cycle_two_with_its_own_first_response(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    wednesday = local(2026, 11, 25, 10, 0)
    with at(monday):
        conversation = citizen_writes(channel, thread="t1")
    with at(monday + timedelta(minutes=20)):
        reply_sent(conversation, agent.user)
    with at(monday + timedelta(minutes=30)):
        conversation_resolve(conversation_id=conversation.id, actor=agent.user)
    with at(wednesday):
        citizen_writes(channel, thread="t1", text="Hij is weer niet geleegd")
    with at(wednesday + timedelta(minutes=45)):
        reply_sent(conversation, agent.user)

    first, second = cycles(conversation)
    assert first.first_response_calendar_seconds == 20 * MINUTE
    assert first.resolved_at == monday + timedelta(minutes=30)
    assert first.resolved_by == agent.user
    assert first.resolution_calendar_seconds == first.resolution_working_seconds == 30 * MINUTE
    assert second.started_at == wednesday
    assert second.first_response_at == wednesday + timedelta(minutes=45)
    assert second.first_response_working_seconds == 45 * MINUTE
    assert second.resolved_at is None
    assert [(wait.cycle_number, wait.is_first_in_cycle) for wait in waits(conversation)] == [
        (1, True),
        (2, True),
    ]


def test_next_responses_are_waits_from_the_oldest_unanswered_message(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel, thread="t1")
    with at(monday + timedelta(minutes=10)):
        reply_sent(conversation, agent.user)
    with at(monday + timedelta(hours=1)):
        citizen_writes(channel, thread="t1", text="Nog een vraag")
    with at(monday + timedelta(hours=1, minutes=5)):
        citizen_writes(channel, thread="t1", text="Hallo?")
    with at(monday + timedelta(hours=1, minutes=30)):
        reply_sent(conversation, agent.user)
    with at(monday + timedelta(hours=2)):
        # Nobody waits: this reply answers nothing.
        reply_sent(conversation, agent.user)

    first, second = waits(conversation)

    assert (first.calendar_seconds, first.messages, first.is_first_in_cycle) == (600, 1, True)
    assert second.started_at == monday + timedelta(hours=1)
    assert second.messages == 2
    assert second.calendar_seconds == 30 * MINUTE
    assert not second.is_first_in_cycle
    assert second.cycle_number == 1


def test_a_message_sent_after_the_agent_pressed_send_starts_the_next_wait(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel, thread="t1")
    with at(monday + timedelta(minutes=10)):
        reply = compose(conversation, agent.user)
    with at(monday + timedelta(minutes=12)):
        citizen_writes(channel, thread="t1", text="En nog iets")
    with at(monday + timedelta(minutes=15)):
        deliver(reply)

    answered, running = waits(conversation)

    assert answered.outcome == WaitFact.Outcome.ANSWERED
    assert answered.answers_until == monday + timedelta(minutes=10)
    assert answered.ended_at == monday + timedelta(minutes=15)
    assert running.outcome == WaitFact.Outcome.WAITING
    assert running.started_at == monday + timedelta(minutes=12)
    assert running.ended_at is None
    assert running.calendar_seconds is None


def test_resolving_closes_a_running_wait_without_a_first_response(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel)
    with at(monday + timedelta(hours=1)):
        conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    [wait] = waits(conversation)
    [cycle] = cycles(conversation)

    assert wait.outcome == WaitFact.Outcome.CLOSED
    assert wait.ended_at == monday + timedelta(hours=1)
    assert wait.responder is None
    assert wait.handling_started_at is None
    assert cycle.first_response_at is None
    assert cycle.resolution_working_seconds == HOUR


# --- which replies count --------------------------------------------------------------------


def test_a_private_reply_to_a_public_message_is_a_response(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel)
    with at(monday + timedelta(minutes=5)):
        reply_sent(conversation, agent.user, private=True)

    [wait] = waits(conversation)

    assert wait.outcome == WaitFact.Outcome.ANSWERED
    assert wait.reply_is_private
    assert not wait.is_private
    assert cycles(conversation)[0].first_response_calendar_seconds == 5 * MINUTE


def test_a_failed_reply_answers_nothing(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel)
    with at(monday + timedelta(minutes=10)):
        failed = compose(conversation, agent.user)
        reply_mark_failed(message_id=failed.id, error="503")

    [wait] = waits(conversation)
    assert wait.outcome == WaitFact.Outcome.WAITING

    with at(monday + timedelta(minutes=30)):
        reply_sent(conversation, agent.user)

    [wait] = waits(conversation)
    assert wait.ended_at == monday + timedelta(minutes=30)
    assert wait.calendar_seconds == 30 * MINUTE


def test_time_awaiting_approval_counts_as_waiting(channel, trainee, team_lead):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel)
    with at(monday + timedelta(minutes=10)):
        draft = compose(conversation, trainee.user)
    assert draft.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL

    [wait] = waits(conversation)
    assert wait.outcome == WaitFact.Outcome.WAITING

    with at(monday + timedelta(hours=2)):
        reply_approve(message_id=draft.id, actor=team_lead.user)
    with at(monday + timedelta(hours=2, minutes=1)):
        deliver(draft)

    [wait] = waits(conversation)
    assert wait.outcome == WaitFact.Outcome.ANSWERED
    assert wait.responder == trainee.user
    assert wait.answers_until == monday + timedelta(minutes=10)
    assert wait.calendar_seconds == 2 * HOUR + MINUTE


def test_a_reply_made_outside_webcare_answers_without_a_responder(channel):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel)
    citizen_message = conversation.messages.get()
    echo = PlatformMessage(
        external_id="echo-1",
        thread_key=conversation.external_thread_id,
        author=PlatformAuthor(external_id="us", username="gemeentedemodorp", display_name="Wij"),
        text="Beantwoord in de app",
        sent_at=monday + timedelta(minutes=25),
        in_reply_to_external_id=citizen_message.external_id or "",
        is_from_account=True,
    )
    with at(monday + timedelta(minutes=27)):
        messages_ingest(
            channel_id=channel.id, fetched=FetchResult(messages=[echo], cursor=channel.cursor)
        )

    [wait] = waits(conversation)

    assert wait.outcome == WaitFact.Outcome.ANSWERED
    assert wait.ended_at == monday + timedelta(minutes=25)
    assert wait.responder is None
    assert cycles(conversation)[0].first_response_calendar_seconds == 25 * MINUTE


# --- handling time --------------------------------------------------------------------------


def test_handling_time_starts_when_the_answering_agent_got_the_conversation(
    channel, agent, second_agent
):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        conversation = citizen_writes(channel)
    with at(monday + timedelta(minutes=5)):
        conversation_take(conversation_id=conversation.id, actor=agent.user)
    with at(monday + timedelta(minutes=20)):
        conversation_transfer(
            conversation_id=conversation.id, actor=agent.user, to_user_id=second_agent.user_id
        )
    with at(monday + timedelta(minutes=50)):
        reply_sent(conversation, second_agent.user)

    [wait] = waits(conversation)

    assert wait.responder == second_agent.user
    assert wait.calendar_seconds == 50 * MINUTE
    assert wait.handling_started_at == monday + timedelta(minutes=20)
    assert wait.handling_calendar_seconds == wait.handling_working_seconds == 30 * MINUTE


def test_handling_time_is_the_whole_wait_for_an_agent_who_had_it_before(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday - timedelta(hours=1)):
        conversation = citizen_writes(channel, thread="t1")
        conversation_take(conversation_id=conversation.id, actor=agent.user)
        reply_sent(conversation, agent.user)
    with at(monday):
        citizen_writes(channel, thread="t1", text="Dank, en nog iets")
    with at(monday + timedelta(minutes=15)):
        reply_sent(conversation, agent.user)

    second = waits(conversation)[1]

    assert second.handling_started_at == monday
    assert second.handling_calendar_seconds == 15 * MINUTE


# --- merging --------------------------------------------------------------------------------


def test_a_merged_away_conversation_keeps_no_facts_of_its_own(channel, agent):
    monday = local(2026, 11, 23, 9, 0)
    with at(monday):
        source = citizen_writes(channel, username="daan", thread="t1")
    with at(monday + timedelta(minutes=5)):
        target = citizen_writes(channel, username="daan", thread="t2")
    metrics_refresh()
    assert WaitFact.objects.filter(conversation=source).count() == 1

    with at(monday + timedelta(minutes=10)):
        conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)
    with at(monday + timedelta(minutes=30)):
        reply_sent(target, agent.user)

    assert waits(source) == []
    assert cycles(source) == []
    [wait] = waits(target)
    assert (wait.started_at, wait.messages, wait.calendar_seconds) == (monday, 2, 30 * MINUTE)
    [cycle] = cycles(target)
    assert cycle.first_response_calendar_seconds == 30 * MINUTE


# --- the pure computation -------------------------------------------------------------------


def test_a_reply_delivered_after_the_resolution_answers_nothing():
    start = local(2026, 11, 23, 9, 0)
    history = ConversationHistory(
        conversation_id=1,
        channel_id=1,
        team_id=None,
        priority=2,
        is_private=False,
        inbound=[InboundMessage(sent_at=start)],
        replies=[
            SentFact(
                sent_at=start + timedelta(minutes=10),
                delivered_at=start + timedelta(minutes=40),
                author_id=7,
            )
        ],
        cycles=[Cycle(number=1, started_at=start, resolved_at=start + timedelta(minutes=30))],
        assignments=[Assignment(at=start, assignee_id=7)],
    )

    facts = conversation_facts(history, DEFAULT_CALENDAR)

    [wait] = facts.waits
    assert (wait.outcome, wait.ended_at) == ("closed", start + timedelta(minutes=30))
    assert facts.cycles[0].first_response_at is None


def test_replies_are_taken_in_the_order_they_reached_the_platform():
    start = local(2026, 11, 23, 9, 0)
    history = ConversationHistory(
        conversation_id=1,
        channel_id=1,
        team_id=None,
        priority=2,
        is_private=False,
        inbound=[
            InboundMessage(sent_at=start),
            InboundMessage(sent_at=start + timedelta(minutes=5)),
        ],
        replies=[
            # Composed first but stuck in delivery; the later one answered both messages.
            SentFact(sent_at=start + timedelta(minutes=1), delivered_at=start + timedelta(hours=1)),
            SentFact(
                sent_at=start + timedelta(minutes=6),
                delivered_at=start + timedelta(minutes=7),
                author_id=3,
            ),
        ],
        cycles=[Cycle(number=1, started_at=start)],
    )

    [wait] = conversation_facts(history, DEFAULT_CALENDAR).waits

    assert (wait.ended_at, wait.messages, wait.responder_id) == (
        start + timedelta(minutes=7),
        2,
        3,
    )
    # Nobody assigned: the handling time is the whole wait.
    assert wait.handling_started_at == start
