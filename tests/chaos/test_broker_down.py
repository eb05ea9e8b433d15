"""Redis (the broker) is down at the moment a task is handed to it: the change that
wanted the task is committed and its caller is not told it failed; the periodic tasks
pick the work up once Redis is back (docs/architecture.md, "Queues and retries")."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.selectors import channel_ids_due_for_poll
from channels.services import channel_create, channel_poll
from inbox.models import AgentProfile, Conversation, Message
from inbox.services import reply_create
from tests.chaos.harness import OwnRedis

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


def test_a_poll_stores_what_it_fetched_while_the_broker_is_down(
    own_redis: OwnRedis, channel: Channel, sandbox: SandboxServer, agent: AgentProfile
) -> None:
    sandbox.add_mention("De brug staat al een uur open", "femke_v")
    own_redis.kill()

    # Ingest asks for an assignment run after commit; the broker is gone. The poll itself
    # succeeded: it must say so, not fail after committing (beat assigns within a minute).
    outcome = channel_poll(channel_id=channel.id)

    assert outcome.succeeded
    assert Message.objects.filter(channel=channel).count() == 1


def test_a_channel_is_created_while_the_broker_is_down(
    own_redis: OwnRedis, sandbox: SandboxServer
) -> None:
    own_redis.kill()

    # Its first poll cannot be enqueued; beat's poll_due finds the new channel due.
    channel = channel_create(
        kind=Channel.Kind.TWITTER,
        name="demodorp-x",
        account_id=DEMO_ACCOUNT_ID,
        api_base_url=sandbox.url,
        credentials=dict(DEMO_CREDENTIALS),
    )

    assert Channel.objects.filter(id=channel.id).exists()
    assert channel.id in channel_ids_due_for_poll(now=timezone.now())


def test_a_reply_is_queued_while_the_broker_is_down(
    own_redis: OwnRedis, channel: Channel, sandbox: SandboxServer, agent: AgentProfile
) -> None:
    sandbox.add_mention("Wanneer gaat het zwembad weer open?", "joris_p")
    channel_poll(channel_id=channel.id)
    conversation = Conversation.objects.get()
    own_redis.kill()

    # What the composer's view calls: the reply is stored; handing it to a worker fails,
    # and the recovery task finds it queued past its due time.
    reply = reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text="Maandag weer open.",
        idempotency_key=uuid.uuid4(),
    )

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
