"""The Celery tasks executed by a real worker on the real Redis broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
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
    assert conversation.waiting_since is None


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


def test_a_failing_channel_never_holds_up_the_others(celery_worker, channel, sandbox):
    # `channel` (X) was created before the worker ran; the other two are created below and,
    # like every new channel, polled at once by the worker.
    sandbox.add_mention(text="Is het stadhuis zaterdag open?", username="ilse", name="Ilse")
    sandbox.add_mastodon_mention("Wanneer wordt de Dorpsstraat opnieuw bestraat?", "wim")
    sandbox.add_facebook_comment("Waarom staat de fontein droog?", "Fenna de Boer")
    # Facebook is over its usage limit, Mastodon is down: both for every poll in this test.
    sandbox.add_fault(path_prefix="/v25.0/", status=429, count=100)
    sandbox.add_fault(path_prefix="/api/v1/notifications", status=503, count=100)

    channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )
    channel_create(
        kind=Channel.Kind.MASTODON,
        name="demodorp-mastodon",
        account_id=MASTODON_ACCOUNT_ID,
        api_base_url=sandbox.url,
        credentials=dict(MASTODON_CREDENTIALS),
    )
    poll.delay(channel.id)

    wait_until(
        lambda: (
            Channel.objects.filter(health=Channel.Health.FAILING).count() == 2
            and Message.objects.filter(channel=channel).exists()
        )
    )
    facebook = Channel.objects.get(kind=Channel.Kind.FACEBOOK)
    mastodon = Channel.objects.get(kind=Channel.Kind.MASTODON)
    assert facebook.paused_until is not None  # a rate limit waits for the platform's reset
    assert "limit" in facebook.last_error.lower()
    assert mastodon.last_error
    assert Message.objects.get().text.endswith("Is het stadhuis zaterdag open?")
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
