"""X direct messages through the connector: tweepy's real code, real HTTP, the sandbox X."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from channels.base import AuthenticationFailed, PlatformAuthor, ReplyTarget
from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, SandboxServer
from channels.services import channel_poll
from channels.twitter import DM_CURSOR, MENTIONS_CURSOR, TwitterConnector
from inbox.models import AuditEvent, Conversation, Message
from inbox.services import reply_create, reply_deliver

pytestmark = pytest.mark.django_db


def poll(channel: Channel) -> int:
    outcome = channel_poll(channel_id=channel.id)
    assert outcome.succeeded, outcome.error
    return outcome.new_messages


def answer(conversation: Conversation, agent, text: str, *, private: bool = False) -> Message:
    return reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text=text,
        idempotency_key=uuid.uuid4(),
        private=private,
    )


def conversation_id_with(user_id: str) -> str:
    smaller, larger = sorted((user_id, DEMO_ACCOUNT_ID), key=int)
    return f"{smaller}-{larger}"


def test_the_first_poll_imports_direct_messages_of_the_history_window_only(channel, sandbox):
    now = timezone.now()
    sandbox.add_direct_message(
        "Oude vraag over mijn BSN", "oudbericht", created_at=now - timedelta(days=9)
    )
    recent = sandbox.add_direct_message(
        "Mijn adres is geheim, hoe scherm ik het af?", "anoniem", name="Anoniem"
    )

    assert poll(channel) == 1

    message = Message.objects.get()
    assert message.external_id == recent["id"]
    assert message.text == "Mijn adres is geheim, hoe scherm ik het af?"
    assert message.is_private
    assert message.direction == Message.Direction.INBOUND
    assert message.author_contact.username == "anoniem"
    assert message.author_contact.display_name == "Anoniem"
    channel.refresh_from_db()
    assert channel.cursor[DM_CURSOR] == recent["id"]


def test_an_incremental_poll_stops_at_the_last_known_event_and_stores_nothing_twice(
    channel, sandbox
):
    sandbox.add_direct_message("Eerste bericht", "kees")
    assert poll(channel) == 1
    assert poll(channel) == 0

    newer = sandbox.add_direct_message("Tweede bericht", "kees")
    assert poll(channel) == 1

    assert Message.objects.count() == 2
    channel.refresh_from_db()
    assert channel.cursor[DM_CURSOR] == newer["id"]


def test_mentions_and_direct_messages_of_one_poll_keep_their_own_cursors(channel, sandbox):
    mention = sandbox.add_mention("Lantaarnpaal kapot", "mira")
    direct = sandbox.add_direct_message("Privé: mijn telefoonnummer is 06-12345678", "mira")

    assert poll(channel) == 2

    channel.refresh_from_db()
    assert channel.cursor == {MENTIONS_CURSOR: mention["id"], DM_CURSOR: direct["id"]}
    public, private = Conversation.objects.order_by("id")
    assert (public.is_private, private.is_private) == (False, True)


def test_it_pages_through_every_page_of_direct_messages(channel, sandbox):
    for number in range(230):
        sandbox.add_direct_message(f"Privévraag {number}", f"burger{number % 9}")

    assert poll(channel) == 230

    assert Message.objects.filter(is_private=True).count() == 230
    assert Conversation.objects.count() == 9

    for number in range(230, 350):
        sandbox.add_direct_message(f"Privévraag {number}", f"burger{number % 9}")
    assert poll(channel) == 120
    assert Message.objects.values("external_id").distinct().count() == 350


def test_each_dm_conversation_is_one_private_conversation(channel, sandbox):
    first = sandbox.add_direct_message("Mijn uitkering is niet betaald", "sem")
    sandbox.add_direct_message("Hallo? Het gaat om de huur", "sem")
    sandbox.add_direct_message("Ik wil een klacht indienen", "fenna")

    assert poll(channel) == 3

    sem = Conversation.objects.get(contact__username="sem")
    assert sem.is_private
    assert sem.external_thread_id == f"dm:{first['dm_conversation_id']}"
    assert sem.messages.count() == 2
    assert Conversation.objects.get(contact__username="fenna").messages.count() == 1


def test_a_dm_reply_arrives_once_and_reads_back_as_an_outbound_echo(channel, sandbox, agent):
    citizen = sandbox.add_direct_message("Mijn BSN is 123456782, klopt mijn adres?", "noor")
    poll(channel)
    conversation = Conversation.objects.get()

    reply = answer(conversation, agent, "We bellen u vandaag terug.")
    assert reply.is_private
    reply_deliver(message_id=reply.id)
    poll(channel)

    [sent] = sandbox.direct_replies()
    assert sent["dm_conversation_id"] == citizen["dm_conversation_id"]
    assert sent["text"] == "We bellen u vandaag terug."
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]
    assert conversation.messages.filter(direction=Message.Direction.INBOUND).count() == 1
    assert Message.objects.count() == 2


def test_a_dm_reply_whose_answer_was_lost_is_found_not_sent_twice(channel, sandbox, agent):
    citizen = sandbox.add_direct_message("Vraag over mijn WOZ-beschikking", "daan")
    poll(channel)
    reply = answer(Conversation.objects.get(), agent, "Stuur ons uw aanslagnummer.")
    sandbox.add_fault(
        path_prefix=f"/2/dm_conversations/{citizen['dm_conversation_id']}/messages",
        method="POST",
        status=503,
        after_processing=True,
    )

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [sent] = sandbox.direct_replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]
    assert AuditEvent.objects.get(action="reply.sent", message=reply).data["via"] == (
        "found_on_platform"
    )


def test_a_poll_between_a_lost_answer_and_the_retry_completes_the_reply(channel, sandbox, agent):
    sandbox.add_direct_message("Mag mijn buurvrouw mijn paspoort ophalen?", "wilma")
    poll(channel)
    reply = answer(Conversation.objects.get(), agent, "Ja, met een machtiging.")
    sandbox.add_fault(
        path_prefix="/2/dm_conversations/", method="POST", status=503, after_processing=True
    )
    reply_deliver(message_id=reply.id)

    poll(channel)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sandbox.direct_replies()[0]["id"]
    assert not Message.objects.filter(direction=Message.Direction.INBOUND, text__startswith="Ja")
    reply_deliver(message_id=reply.id)
    assert len(sandbox.direct_replies()) == 1


def test_a_dm_sent_from_the_x_app_joins_its_conversation_as_outbound(channel, sandbox):
    citizen = sandbox.add_direct_message("Is mijn melding ontvangen?", "bram")
    poll(channel)
    sent = TwitterConnector(channel).send_reply(
        text="Ja, die is ontvangen.",
        target=ReplyTarget(
            in_reply_to_external_id=citizen["id"],
            recipient=PlatformAuthor(external_id=citizen["sender_id"]),
            thread_key=f"dm:{citizen['dm_conversation_id']}",
            private=True,
        ),
    )
    sandbox.add_direct_message("Dank u!", "bram")

    assert poll(channel) == 1

    conversation = Conversation.objects.get()
    outbound = conversation.messages.get(direction=Message.Direction.OUTBOUND)
    assert outbound.external_id == sent.external_id
    assert outbound.author_contact is None
    assert conversation.messages.filter(direction=Message.Direction.INBOUND).count() == 2


def test_a_public_mention_answered_privately_arrives_as_a_dm_to_its_author(channel, sandbox, agent):
    mention = sandbox.add_mention("Ik wil mijn adresgegevens niet openbaar delen", "lotte")
    poll(channel)
    conversation = Conversation.objects.get()
    assert not conversation.is_private

    reply = answer(conversation, agent, "We sturen u een privébericht.", private=True)
    reply_deliver(message_id=reply.id)

    [sent] = sandbox.direct_replies()
    assert sent["dm_conversation_id"] == conversation_id_with(mention["author_id"])
    assert sandbox.replies() == []
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]


def test_a_long_private_reply_fits_where_a_tweet_would_not(channel, sandbox, agent):
    sandbox.add_direct_message("Kunt u alles uitleggen over de bijstand?", "ayoub")
    poll(channel)
    long_text = "Uitleg. " * 100

    reply = answer(Conversation.objects.get(), agent, long_text)
    reply_deliver(message_id=reply.id)

    assert sandbox.direct_replies()[0]["text"] == long_text.strip()


def test_a_rate_limit_on_direct_messages_fails_the_poll_and_pauses_the_channel(channel, sandbox):
    sandbox.add_mention("Mijn container is niet geleegd", "piet")
    sandbox.add_fault(path_prefix="/2/dm_events", status=429)

    outcome = channel_poll(channel_id=channel.id)

    assert not outcome.succeeded
    channel.refresh_from_db()
    assert channel.health == Channel.Health.FAILING
    assert "rate limit" in channel.last_error
    assert channel.paused_until is not None and channel.paused_until > timezone.now()
    # The whole poll failed: neither cursor moved, so the mention is read again next time.
    assert channel.cursor == {}
    assert Message.objects.count() == 0
    assert poll(channel) == 1


def test_refused_credentials_on_direct_messages_say_so_clearly(channel, sandbox):
    sandbox.add_fault(path_prefix="/2/dm_events", status=401)

    outcome = channel_poll(channel_id=channel.id)

    assert not outcome.succeeded
    assert "credentials" in outcome.error
    channel.refresh_from_db()
    assert channel.health == Channel.Health.NEEDS_ATTENTION


def test_sending_a_dm_with_refused_credentials_raises_authentication_failed(channel, sandbox):
    citizen = sandbox.add_direct_message("Vraag", "noor")
    sandbox.add_fault(path_prefix="/2/dm_conversations/", method="POST", status=401)

    with pytest.raises(AuthenticationFailed, match="credentials"):
        TwitterConnector(channel).send_reply(
            text="Antwoord",
            target=ReplyTarget(
                in_reply_to_external_id=citizen["id"],
                recipient=PlatformAuthor(external_id=citizen["sender_id"]),
                thread_key=f"dm:{citizen['dm_conversation_id']}",
                private=True,
            ),
        )
    assert sandbox.direct_replies() == []


def test_find_reply_for_a_dm_matches_conversation_and_text_only(channel, sandbox: SandboxServer):
    citizen = sandbox.add_direct_message("Vraag", "noor")
    other = sandbox.add_direct_message("Andere vraag", "fenna")
    connector = TwitterConnector(channel)

    def target(event: dict) -> ReplyTarget:
        return ReplyTarget(
            in_reply_to_external_id=event["id"],
            recipient=PlatformAuthor(external_id=event["sender_id"]),
            thread_key=f"dm:{event['dm_conversation_id']}",
            private=True,
        )

    not_before = timezone.now() - timedelta(minutes=5)
    sent = connector.send_reply(text="Antwoord", target=target(citizen))

    found = connector.find_reply(text="Antwoord", target=target(citizen), not_before=not_before)
    assert found is not None and found.external_id == sent.external_id
    assert (
        connector.find_reply(text="Anders", target=target(citizen), not_before=not_before) is None
    )
    assert (
        connector.find_reply(text="Antwoord", target=target(other), not_before=not_before) is None
    )
