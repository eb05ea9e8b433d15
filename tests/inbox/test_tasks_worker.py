"""The Celery tasks executed by a real worker on the real Redis broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS
from channels.services import channel_create
from channels.tasks import poll
from inbox.models import Conversation, Message
from inbox.services import reply_create

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def test_a_worker_polls_assigns_and_delivers_a_reply(celery_worker, channel, sandbox, agent):
    sandbox.add_mention(text="Mijn rijbewijs is gestolen, wat nu?", username="joost", name="Joost")

    poll.delay(channel.id)

    wait_until(lambda: Conversation.objects.filter(assignee=agent.user).exists())
    conversation = Conversation.objects.get()
    message = reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text="Doe aangifte bij de politie en maak daarna een afspraak bij ons.",
        idempotency_key=uuid.uuid4(),
    )
    wait_until(
        lambda: Message.objects.get(id=message.id).delivery_status == Message.DeliveryStatus.SENT
    )
    [posted] = sandbox.replies()
    assert posted["text"].startswith("Doe aangifte")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ANSWERED


def test_a_new_channel_imports_its_history_without_waiting_for_beat(celery_worker, sandbox):
    sandbox.add_mention(text="Zijn jullie ook op X?", username="vera", name="Vera")

    channel_create(
        kind="twitter",
        name="nieuw-x",
        account_id=DEMO_ACCOUNT_ID,
        api_base_url=sandbox.url,
        credentials=dict(DEMO_CREDENTIALS),
    )

    wait_until(lambda: Message.objects.filter(text__endswith="Zijn jullie ook op X?").exists())
