"""Ingest stores a poll's messages a batch at a time; the outcome is that of taking them one
by one in time order, whatever the batch holds (inbox/services/ingest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from inbox.models import AuditEvent, CareCycle, Contact, Conversation, Message
from inbox.services import (
    agent_set_presence,
    conversation_resolve,
    conversation_take,
    messages_ingest,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

ACCOUNT_ID = "1600000000000000001"


def ingest(channel, *messages: PlatformMessage):
    return messages_ingest(
        channel_id=channel.id, fetched=FetchResult(messages=list(messages), cursor={})
    )


def citizen_message(
    number: int,
    *,
    thread: str,
    author: str = "burger",
    minutes_ago: float = 10,
    in_reply_to: str = "",
    display_name: str = "",
) -> PlatformMessage:
    return PlatformMessage(
        external_id=f"m-{number}",
        thread_key=thread,
        author=PlatformAuthor(
            external_id=f"user-{author}", username=author, display_name=display_name
        ),
        text=f"Bericht {number}",
        sent_at=timezone.now() - timedelta(minutes=minutes_ago),
        in_reply_to_external_id=in_reply_to,
    )


def test_two_messages_of_one_new_citizen_make_one_contact_and_one_conversation(channel):
    result = ingest(
        channel,
        citizen_message(2, thread="t-1", minutes_ago=5, display_name="Later Naam"),
        citizen_message(1, thread="t-1", minutes_ago=9, display_name="Eerste Naam"),
    )

    assert (result.new_messages, result.new_conversations) == (2, 1)
    contact = Contact.objects.get(channel=channel)
    # The first message in time creates the contact, as when taken one by one.
    assert contact.display_name == "Eerste Naam"
    conversation = Conversation.objects.get(channel=channel)
    assert list(
        conversation.messages.order_by("sent_at").values_list("external_id", flat=True)
    ) == [
        "m-1",
        "m-2",
    ]
    first, second = conversation.messages.order_by("sent_at")
    assert conversation.first_inbound_at == first.sent_at
    assert conversation.waiting_since == first.sent_at
    assert conversation.last_inbound_at == second.sent_at
    assert CareCycle.objects.filter(conversation=conversation).count() == 1
    assert list(
        AuditEvent.objects.filter(conversation=conversation).values_list("action", flat=True)
    ) == ["conversation.created", "conversation.routed"]


def test_a_message_twice_in_one_batch_is_stored_once(channel):
    message = citizen_message(1, thread="t-1")

    result = ingest(channel, message, message)

    assert result.new_messages == 1
    assert Message.objects.filter(channel=channel, external_id="m-1").count() == 1


def test_a_thread_started_and_answered_in_one_batch_is_one_conversation(mastodon_channel):
    # Mastodon gives each status its own thread key: the reply joins by what it answers.
    result = ingest(
        mastodon_channel,
        citizen_message(1, thread="status:1", minutes_ago=9),
        citizen_message(2, thread="status:2", minutes_ago=8, in_reply_to="m-1"),
        # Someone else answering the same status starts a conversation of their own.
        citizen_message(3, thread="status:3", minutes_ago=7, in_reply_to="m-1", author="ander"),
    )

    assert (result.new_messages, result.new_conversations) == (3, 2)
    joined = Message.objects.get(external_id="m-2").conversation
    assert joined == Message.objects.get(external_id="m-1").conversation
    assert joined.external_thread_id == "status:1"
    assert Message.objects.get(external_id="m-3").conversation != joined


def test_a_resolved_conversation_answered_twice_in_one_batch_reopens_once(
    channel, agent, team_lead
):
    conversation = citizen_writes(
        channel, thread="t-1", username="burger", sent_at=timezone.now() - timedelta(hours=1)
    )
    conversation_resolve(conversation_id=conversation.id, actor=team_lead.user)

    ingest(
        channel,
        citizen_message(1, thread="t-1", minutes_ago=0.2),
        citizen_message(2, thread="t-1", minutes_ago=0.1),
    )

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert list(
        CareCycle.objects.filter(conversation=conversation).values_list("number", flat=True)
    ) == [1, 2]
    reopened = AuditEvent.objects.get(conversation=conversation, action="conversation.reopened")
    assert reopened.message_id == Message.objects.get(external_id="m-1").id
    assert reopened.data == {"previous_status": "resolved", "care_cycle": 2}


def test_a_conversation_reopened_while_its_agent_is_away_goes_back_to_the_queue(
    channel, agent, team_lead
):
    conversation = citizen_writes(
        channel, thread="t-1", username="burger", sent_at=timezone.now() - timedelta(hours=1)
    )
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    conversation_resolve(conversation_id=conversation.id, actor=agent.user)
    agent_set_presence(actor=agent.user, presence="away")

    ingest(channel, citizen_message(1, thread="t-1", minutes_ago=0.1))

    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    assert conversation.assigned_at is None
    unassigned = AuditEvent.objects.get(conversation=conversation, action="conversation.unassigned")
    assert unassigned.data == {
        "previous_assignee_id": agent.user_id,
        "reason": "reopened_while_unavailable",
    }


def test_our_reply_made_outside_webcare_in_the_same_batch_joins_the_conversation(channel):
    echo = PlatformMessage(
        external_id="echo-1",
        thread_key="t-1:ours",
        author=PlatformAuthor(external_id=ACCOUNT_ID, username="gemeente"),
        text="We kijken ernaar",
        sent_at=timezone.now() - timedelta(minutes=5),
        in_reply_to_external_id="m-1",
        is_from_account=True,
    )

    result = ingest(channel, echo, citizen_message(1, thread="t-1", minutes_ago=9))

    assert (result.new_messages, result.echoes) == (1, 1)
    conversation = Conversation.objects.get(channel=channel)
    stored_echo = Message.objects.get(external_id="echo-1")
    assert stored_echo.direction == Message.Direction.OUTBOUND
    assert stored_echo.conversation == conversation
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    assert conversation.first_response_at is not None


def test_a_citizen_answering_our_reply_of_the_same_batch_joins_its_conversation(
    mastodon_channel,
):
    echo = PlatformMessage(
        external_id="echo-1",
        thread_key="status:echo-1",
        author=PlatformAuthor(external_id="ours", username="gemeente"),
        text="We kijken ernaar",
        sent_at=timezone.now() - timedelta(minutes=8),
        in_reply_to_external_id="m-1",
        is_from_account=True,
    )

    ingest(
        mastodon_channel,
        citizen_message(1, thread="status:1", minutes_ago=9),
        echo,
        citizen_message(2, thread="status:2", minutes_ago=7, in_reply_to="echo-1"),
    )

    conversation = Message.objects.get(external_id="m-1").conversation
    assert Message.objects.get(external_id="echo-1").conversation == conversation
    assert Message.objects.get(external_id="m-2").conversation == conversation
    conversation.refresh_from_db()
    # Our reply answered m-1; m-2 came after it and waits.
    assert conversation.waiting_since == Message.objects.get(external_id="m-2").sent_at


def test_a_poll_of_a_hundred_messages_takes_as_many_queries_as_one_of_ten(channel):
    def batch(start: int, size: int) -> list[PlatformMessage]:
        return [
            citizen_message(
                number,
                thread=f"t-{number % (size // 2)}-{start}",
                author=f"c{number % 7}-{start}",
            )
            for number in range(start, start + size)
        ]

    with CaptureQueriesContext(connection) as small:
        ingest(channel, *batch(0, 10))
    with CaptureQueriesContext(connection) as large:
        ingest(channel, *batch(1000, 100))

    assert Message.objects.filter(channel=channel).count() == 110
    assert len(large) == len(small)
    assert len(large) <= 20
