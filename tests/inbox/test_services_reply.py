from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage, RejectedItem, SentReply
from channels.models import QuarantinedItem
from channels.services import channel_poll
from inbox.models import AuditEvent, Conversation, Message
from inbox.services import (
    MAX_DELIVERY_ATTEMPTS,
    ServiceError,
    messages_ingest,
    replies_recover_stuck,
    reply_create,
    reply_deliver,
    reply_mark_sent,
    reply_retry,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(channel, sandbox, agent) -> Conversation:
    sandbox.add_mention(text="Wanneer komt de vuilniswagen?", username="daan", name="Daan")
    assert channel_poll(channel_id=channel.id).succeeded
    return Conversation.objects.get()


def reply(
    conversation: Conversation, actor, text: str = "Morgen vanaf 7.30 uur.", key=None
) -> Message:
    return reply_create(
        conversation_id=conversation.id,
        actor=actor,
        text=text,
        idempotency_key=key or uuid.uuid4(),
    )


def test_a_reply_is_queued_then_sent_and_the_conversation_counts_as_answered(
    conversation, agent, sandbox
):
    message = reply(conversation, agent.user)
    assert message.delivery_status == Message.DeliveryStatus.QUEUED

    reply_deliver(message_id=message.id)

    message.refresh_from_db()
    conversation.refresh_from_db()
    [posted] = sandbox.replies()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert message.external_id == posted["id"]
    assert posted["referenced_tweets"][0]["id"] == conversation.messages.first().external_id
    assert conversation.waiting_since is None
    assert conversation.first_response_at == message.delivered_at
    assert conversation.assignee == agent.user
    assert list(
        AuditEvent.objects.filter(message=message).values_list("action", flat=True).order_by("id")
    ) == ["reply.queued", "reply.sent"]


def test_the_same_form_submitted_twice_is_one_reply(conversation, agent):
    key = uuid.uuid4()
    first = reply(conversation, agent.user, key=key)
    second = reply(conversation, agent.user, key=key)

    assert first.id == second.id
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1


def test_a_reply_longer_than_the_platform_allows_is_refused(conversation, agent):
    with pytest.raises(ServiceError, match="281"):
        reply(conversation, agent.user, text="x" * 281)
    with pytest.raises(ServiceError):
        reply(conversation, agent.user, text="   ")


def test_the_length_is_counted_the_way_the_platform_counts_it(conversation, agent):
    # 150 characters, but X counts every emoji as two: 300 > 280.
    with pytest.raises(ServiceError, match="300"):
        reply(conversation, agent.user, text="🙂" * 150)
    assert reply(conversation, agent.user, text="🙂" * 140).delivery_status == "queued"


def test_delivering_twice_posts_once(conversation, agent, sandbox):
    message = reply(conversation, agent.user)
    reply_deliver(message_id=message.id)
    reply_deliver(message_id=message.id)

    assert len(sandbox.replies()) == 1


def test_a_rate_limited_reply_waits_for_the_reset_and_is_then_sent(conversation, agent, sandbox):
    message = reply(conversation, agent.user)
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=429, count=1)

    reply_deliver(message_id=message.id)

    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    assert "rate limit" in message.delivery_error
    assert message.next_attempt_at > timezone.now() + timedelta(seconds=5)

    reply_deliver(message_id=message.id)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert len(sandbox.replies()) == 1


def test_a_reply_posted_but_unacknowledged_is_found_not_posted_again(conversation, agent, sandbox):
    message = reply(conversation, agent.user)
    # The platform posts the reply, then the answer is lost (a 503 after processing).
    sandbox.add_fault(
        path_prefix="/2/tweets", method="POST", status=503, count=1, after_processing=True
    )

    reply_deliver(message_id=message.id)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.QUEUED

    reply_deliver(message_id=message.id)

    message.refresh_from_db()
    [posted] = sandbox.replies()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert message.external_id == posted["id"]
    assert AuditEvent.objects.get(action="reply.sent", message=message).data["via"] == (
        "found_on_platform"
    )


def test_a_refused_reply_fails_with_the_platforms_reason_and_can_be_retried(
    conversation, agent, sandbox
):
    message = reply(conversation, agent.user)
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=403, count=1)

    reply_deliver(message_id=message.id)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    assert message.delivery_error.startswith("X refused")
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None

    reply_retry(message_id=message.id, actor=agent.user)
    reply_deliver(message_id=message.id)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT


def test_a_reply_that_keeps_failing_gives_up_after_the_last_attempt(conversation, agent, sandbox):
    message = reply(conversation, agent.user)
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=500, count=100)
    sandbox.add_fault(path_prefix="/2/users", method="GET", status=500, count=100)

    for _attempt in range(MAX_DELIVERY_ATTEMPTS):
        reply_deliver(message_id=message.id)

    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    assert f"after {MAX_DELIVERY_ATTEMPTS} attempts" in message.delivery_error
    assert sandbox.replies() == []


def test_a_reply_stuck_in_sending_is_recovered_and_not_posted_twice(conversation, agent, sandbox):
    message = reply(conversation, agent.user)
    Message.objects.filter(id=message.id).update(
        delivery_status=Message.DeliveryStatus.SENDING,
        delivery_attempts=1,
        sending_started_at=timezone.now(),
    )
    assert replies_recover_stuck() == 0

    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert replies_recover_stuck() == 1
    reply_deliver(message_id=message.id)

    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert len(sandbox.replies()) == 1


def test_a_new_citizen_message_after_the_reply_keeps_the_conversation_waiting(
    conversation, agent, sandbox, channel
):
    message = reply(conversation, agent.user)
    first_tweet = conversation.messages.get(direction=Message.Direction.INBOUND)
    sandbox.add_mention(
        text="Nog een vraag",
        username="daan",
        name="Daan",
        in_reply_to_tweet_id=first_tweet.external_id,
    )
    assert channel_poll(channel_id=channel.id).new_messages == 1

    reply_deliver(message_id=message.id)

    conversation.refresh_from_db()
    # The citizen now waits since their new message, not since the one the reply answered.
    second_tweet = conversation.messages.filter(direction=Message.Direction.INBOUND).latest(
        "sent_at"
    )
    assert second_tweet.sent_at > message.sent_at
    assert conversation.waiting_since == second_tweet.sent_at


def test_our_own_reply_seen_in_a_read_is_an_outbound_message_not_a_citizen(
    conversation, agent, channel
):
    citizen_tweet = conversation.messages.get()
    echo = PlatformMessage(
        external_id="9999",
        thread_key="ignored",
        author=PlatformAuthor(external_id=channel.account_id, username="gemeentedemodorp"),
        text="Geantwoord vanuit de X-app",
        sent_at=timezone.now(),
        in_reply_to_external_id=citizen_tweet.external_id,
        is_from_account=True,
    )

    for _read in range(2):
        messages_ingest(channel_id=channel.id, fetched=FetchResult([echo], cursor=channel.cursor))

    stored = Message.objects.get(external_id="9999")
    assert stored.direction == Message.Direction.OUTBOUND
    assert stored.conversation == conversation
    assert stored.author_contact is None
    conversation.refresh_from_db()
    assert conversation.waiting_since is None


def test_an_echo_of_a_reply_still_sending_completes_that_reply(conversation, agent, channel):
    message = reply(conversation, agent.user, text="Komt eraan")
    echo = PlatformMessage(
        external_id="8888",
        thread_key="ignored",
        author=PlatformAuthor(external_id=channel.account_id),
        text="Komt eraan",
        sent_at=timezone.now(),
        in_reply_to_external_id=message.in_reply_to_external_id,
        is_from_account=True,
    )

    messages_ingest(channel_id=channel.id, fetched=FetchResult([echo], cursor=channel.cursor))

    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert message.external_id == "8888"
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1


def test_an_echo_first_stored_as_an_outside_reply_merges_into_our_reply_when_it_is_sent(
    conversation, agent, channel
):
    message = reply(conversation, agent.user, text="Komt eraan")
    # The platform changed our text a little (a link shortened), so ingest cannot tell it
    # is ours yet and keeps it as a reply written outside Webcare.
    echo = PlatformMessage(
        external_id="9999",
        thread_key="ignored",
        author=PlatformAuthor(external_id=channel.account_id),
        text="Komt eraan!",
        sent_at=timezone.now(),
        in_reply_to_external_id=message.in_reply_to_external_id,
        is_from_account=True,
    )
    messages_ingest(channel_id=channel.id, fetched=FetchResult([echo], cursor=channel.cursor))
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 2

    reply_mark_sent(message_id=message.id, sent=SentReply("9999", {}))

    [outbound] = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    assert outbound.id == message.id
    assert outbound.external_id == "9999"
    merged = AuditEvent.objects.get(action="reply.echo_merged")
    assert merged.message_id == message.id
    assert merged.data["external_id"] == "9999"


def test_unreadable_platform_items_are_quarantined_and_the_rest_is_stored(channel):
    raw = {"id": "77", "text": "zonder auteur\u0000"}
    readable = PlatformMessage(
        external_id="78",
        thread_key="78",
        author=PlatformAuthor(external_id="u1", username="lees"),
        text="Wel leesbaar",
        sent_at=timezone.now(),
    )
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(
            [readable], cursor=channel.cursor, rejected=[RejectedItem("no author", raw)]
        ),
    )

    item = QuarantinedItem.objects.get()
    assert item.channel == channel
    assert item.reason == "no author"
    assert item.raw == {"id": "77", "text": "zonder auteur"}
    assert AuditEvent.objects.filter(action="channel.item_quarantined").count() == 1
    assert Message.objects.filter(external_id="78").exists()


def test_text_postgresql_cannot_store_is_cleaned_and_the_message_kept(channel):
    broken = PlatformMessage(
        external_id="79",
        thread_key="79",
        author=PlatformAuthor(external_id="u2", username="kapot", display_name="Ka\x00pot"),
        text="Mijn vraag\x00 met een half emoji \ud83d erin",
        sent_at=timezone.now(),
        raw={"text": "Mijn vraag\x00"},
    )

    messages_ingest(channel_id=channel.id, fetched=FetchResult([broken], cursor=channel.cursor))

    message = Message.objects.get(external_id="79")
    assert message.text == "Mijn vraag met een half emoji  erin"
    assert message.raw == {"text": "Mijn vraag"}
    assert message.author_contact.display_name == "Kapot"


def test_a_reply_to_a_known_message_joins_its_conversation_whatever_its_thread_key(
    conversation, channel
):
    first = conversation.messages.get()
    follow_up = PlatformMessage(
        external_id="5555",
        thread_key="5555",  # a platform without thread ids keys every message on its own
        author=PlatformAuthor(external_id=conversation.contact.external_id, username="daan"),
        text="En wanneer is de volgende keer?",
        sent_at=timezone.now(),
        in_reply_to_external_id=first.external_id,
    )
    stranger = PlatformMessage(
        external_id="5556",
        thread_key="5556",
        author=PlatformAuthor(external_id="someone-else", username="vreemde"),
        text="Ik heb dezelfde vraag",
        sent_at=timezone.now(),
        in_reply_to_external_id=first.external_id,
    )

    messages_ingest(
        channel_id=channel.id, fetched=FetchResult([follow_up, stranger], cursor=channel.cursor)
    )

    assert Message.objects.get(external_id="5555").conversation == conversation
    assert Message.objects.get(external_id="5556").conversation != conversation
