"""Collision detection: colleagues in the same conversation see each other (real Redis), see
who is typing, and a reply is not sent on top of messages that arrived meanwhile without a
confirmation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inbox import collision
from inbox.models import Conversation, Message
from inbox.services import (
    NewerMessagesSinceOpened,
    flagged_word_add,
    reply_create,
    reply_reject,
)
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_presence_left_from_earlier_tests() -> Iterator[None]:
    # Conversation ids start again in every test database; presence keys live 30 s.
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("webcare:collision:*"):
        client.delete(key)
    yield


def english_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    return client


@pytest.fixture
def conversation(channel) -> Conversation:
    return citizen_writes(channel, text="Er ligt glas op het fietspad", username="femke")


def activity(client: Client, conversation: Conversation, **params: str):
    return client.get(
        reverse("inbox:conversation_activity", args=[conversation.id]),
        params,
        headers={"HX-Request": "true"},
    )


def test_two_agents_with_the_same_conversation_open_see_each_other(
    conversation, agent, second_agent
):
    anouk = english_client(agent.user)
    bram = english_client(second_agent.user)

    first_page = anouk.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()
    bram_page = bram.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()
    anouk_poll = activity(anouk, conversation).content.decode()

    assert "also has this conversation open" not in first_page  # nobody else was there yet
    assert "Anouk Jansen also has this conversation open." in bram_page
    assert "Bram Bakker also has this conversation open." in anouk_poll
    assert "Anouk Jansen" not in anouk_poll  # never yourself
    assert 'aria-live="polite"' in bram_page


def test_the_poll_answers_204_while_nothing_changed(conversation, agent, second_agent):
    anouk = english_client(agent.user)
    bram = english_client(second_agent.user)
    anouk.get(reverse("inbox:conversation", args=[conversation.id]))

    first = activity(bram, conversation)
    state = first.context["collision_state"]
    unchanged = activity(bram, conversation, state=state)
    collision.conversation_activity(
        conversation_id=conversation.id, user_id=agent.user.pk, typing=True
    )
    changed = activity(bram, conversation, state=state)

    assert first.status_code == 200
    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert "Anouk Jansen is typing a reply…" in changed.content.decode()


def test_typing_shows_until_it_expires_and_viewing_until_the_page_stops_polling(
    conversation, agent, second_agent
):
    anouk, bram = agent.user.pk, second_agent.user.pk
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        collision.conversation_activity(conversation_id=conversation.id, user_id=anouk, typing=True)
        seen_by_bram = collision.conversation_activity(
            conversation_id=conversation.id, user_id=bram
        )
    with time_machine.travel(start + timedelta(seconds=collision.TYPING_SECONDS + 1), tick=False):
        after_typing = collision.conversation_activity(
            conversation_id=conversation.id, user_id=bram
        )
    with time_machine.travel(start + timedelta(seconds=collision.VIEWING_SECONDS + 1), tick=False):
        after_viewing = collision.conversation_activity(
            conversation_id=conversation.id, user_id=bram
        )

    assert seen_by_bram == collision.Activity(viewing=(anouk,), typing=(anouk,))
    assert after_typing == collision.Activity(viewing=(anouk,), typing=())
    assert after_viewing == collision.Activity(viewing=(), typing=())
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(
        f"webcare:collision:{conversation.id}:viewing"
    )
    assert 0 < ttl <= collision.VIEWING_SECONDS  # nothing is left behind for good


def test_the_composer_reports_typing(conversation, agent, second_agent):
    anouk = english_client(agent.user)

    response = anouk.post(reverse("inbox:conversation_typing", args=[conversation.id]))

    assert response.status_code == 204
    seen_by_bram = collision.conversation_activity(
        conversation_id=conversation.id, user_id=second_agent.user.pk
    )
    assert seen_by_bram is not None
    assert seen_by_bram.typing == (agent.user.pk,)
    assert (
        anouk.get(reverse("inbox:conversation_typing", args=[conversation.id])).status_code == 405
    )

    anouk.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": "We ruimen het op.", "idempotency_key": str(uuid.uuid4())},
    )
    after_sending = collision.conversation_activity(
        conversation_id=conversation.id, user_id=second_agent.user.pk
    )
    assert after_sending is not None
    assert after_sending.typing == ()  # sent: no longer typing, without waiting 6 s
    assert after_sending.viewing == (agent.user.pk,)


def test_the_poll_reports_messages_that_arrived_after_the_page_was_rendered(
    channel, conversation, agent
):
    anouk = english_client(agent.user)
    page = anouk.get(reverse("inbox:conversation", args=[conversation.id]))
    seen = max(message.id for message in page.context["thread"])
    assert f"?seen={seen}" in page.content.decode()

    citizen_writes(
        channel,
        text="En ook bij de school!",
        username="femke",
        thread=conversation.external_thread_id,
    )
    content = activity(anouk, conversation, seen=str(seen)).content.decode()

    assert "A new message arrived since you opened this conversation:" in content
    assert "En ook bij de school!" in content


def send(conversation: Conversation, actor, *, seen: int, confirmed: bool = False) -> Message:
    return reply_create(
        conversation_id=conversation.id,
        actor=actor,
        text="We ruimen het vandaag op.",
        idempotency_key=uuid.uuid4(),
        seen_message_id=seen,
        confirmed_despite_newer=confirmed,
    )


def newest_id(conversation: Conversation) -> int:
    return conversation.messages.order_by("-id").values_list("id", flat=True)[0]


def test_a_reply_is_not_sent_on_top_of_new_messages_without_confirmation(
    channel, conversation, agent
):
    seen = newest_id(conversation)
    for text in ("Hallo?", "Het is al opgeruimd trouwens."):
        citizen_writes(channel, text=text, username="femke", thread=conversation.external_thread_id)

    with pytest.raises(NewerMessagesSinceOpened) as refused:
        send(conversation, agent.user, seen=seen)

    assert refused.value.count == 2
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    message = send(conversation, agent.user, seen=seen, confirmed=True)
    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    # Having seen the newest message, no confirmation is needed.
    assert send(conversation, agent.user, seen=newest_id(conversation)).pk != message.pk


def test_a_colleagues_reply_counts_as_new_but_your_own_and_rejected_ones_do_not(
    conversation, agent, second_agent, team_lead
):
    seen = newest_id(conversation)
    send(conversation, agent.user, seen=seen)
    assert send(conversation, agent.user, seen=seen)  # your own earlier reply: no collision

    with pytest.raises(NewerMessagesSinceOpened) as refused:
        send(conversation, second_agent.user, seen=seen)
    assert refused.value.count == 2

    flagged_word_add(actor=team_lead.user, word="opgeruimd")
    seen = newest_id(conversation)
    held = reply_create(
        conversation_id=conversation.id,
        actor=second_agent.user,
        text="Het is opgeruimd.",
        idempotency_key=uuid.uuid4(),
    )
    with pytest.raises(NewerMessagesSinceOpened):
        send(conversation, agent.user, seen=seen)  # a colleague's reply awaiting approval
    reply_reject(message_id=held.id, actor=team_lead.user, feedback="Klopt niet.")
    assert send(conversation, agent.user, seen=seen)  # rejected: it will never be posted


def test_the_composer_comes_back_with_the_new_messages_and_a_send_anyway_checkbox(
    channel, conversation, agent
):
    anouk = english_client(agent.user)
    page = anouk.get(reverse("inbox:conversation", args=[conversation.id]))
    seen = max(message.id for message in page.context["thread"])
    assert f'name="seen_message_id" value="{seen}"' in page.content.decode()
    citizen_writes(
        channel,
        text="Laat maar, al gedaan.",
        username="femke",
        thread=conversation.external_thread_id,
    )
    form = {
        "text": "We sturen iemand langs.",
        "idempotency_key": str(uuid.uuid4()),
        "seen_message_id": str(seen),
    }
    url = reverse("inbox:reply_send", args=[conversation.id])

    refused = anouk.post(url, form)

    content = refused.content.decode()
    assert refused.status_code == 422
    assert 'role="alert"' in content
    assert "A new message arrived in this conversation since you opened it." in content
    assert 'name="confirmed_despite_newer"' in content and "Send anyway" in content
    assert ">We sturen iemand langs.</textarea>" in content
    assert content.count("Laat maar, al gedaan.") == 2  # in the thread and in the warning
    assert f'name="seen_message_id" value="{seen}"' in content  # still needs the checkbox
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()

    assert anouk.post(url, form).status_code == 422
    sent = anouk.post(url, {**form, "confirmed_despite_newer": "on"})

    assert sent.status_code == 302
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).text == (
        "We sturen iemand langs."
    )


def test_without_redis_the_conversation_page_still_works_without_collision_info(
    conversation, agent, settings, caplog
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    collision._last_logged_failure = 0.0
    anouk = english_client(agent.user)

    page = anouk.get(reverse("inbox:conversation", args=[conversation.id]))
    poll = activity(anouk, conversation)
    typing = anouk.post(reverse("inbox:conversation_typing", args=[conversation.id]))

    assert page.status_code == 200
    assert "Er ligt glas op het fietspad" in page.content.decode()
    assert page.context["collision_lines"] == []
    assert poll.status_code == 200
    assert typing.status_code == 204
    assert "Collision detection is unavailable" in caplog.text


def test_collision_keys_carry_the_cache_prefix(settings):
    """Two installations (or the load test beside `make run`) sharing one Redis database
    must not see each other's colleagues."""
    from inbox.collision import _key

    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": "gemeente-b"},
    }
    assert _key(7, "viewing") == "gemeente-b:collision:7:viewing"
