"""Exactly-once replies, per platform and per kind of reply: when an attempt's outcome is
unknown, the next attempt looks on the platform first (docs/architecture.md, "Exactly-once
replies").

Each case runs the real connector (tweepy, facebook-sdk, Mastodon.py) over HTTP against the
sandbox, which acts on the POST and then loses the answer (a 5xx, or an answer later than
our timeout), or refuses before acting. The sandbox is the judge: it must hold exactly one
copy of the reply, and our row must carry that copy's id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from channels.models import Channel
from channels.sandbox import SandboxServer
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create, channel_poll
from inbox.models import AuditEvent, Conversation, Message
from inbox.services import reply_create, reply_deliver

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class ReplyKind:
    """One kind of reply: how the citizen writes, which POST carries our answer, and where
    the sandbox keeps our copies."""

    channel_fixture: str
    citizen_writes: Callable[[SandboxServer], Any]
    private: bool
    post_path: Callable[[SandboxServer], str]
    copies: Callable[[SandboxServer], list[dict[str, Any]]]


def _x_dm_copies(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [dict(event) for event in sandbox.direct_replies()]


KINDS = {
    "x-public-reply": ReplyKind(
        "channel",
        lambda sandbox: sandbox.add_mention("Waar blijft de vuilniswagen?", "daan"),
        False,
        lambda sandbox: "/2/tweets",
        lambda sandbox: [dict(tweet) for tweet in sandbox.replies()],
    ),
    "x-dm-in-a-dm-conversation": ReplyKind(
        "channel",
        lambda sandbox: sandbox.add_direct_message("Mijn pas is kwijt.", "eva"),
        True,
        lambda sandbox: "/2/dm_conversations/",
        _x_dm_copies,
    ),
    "x-dm-answering-a-public-mention": ReplyKind(
        "channel",
        lambda sandbox: sandbox.add_mention("Mag ik u een DM sturen?", "femke"),
        True,
        lambda sandbox: "/2/dm_conversations/with/",
        _x_dm_copies,
    ),
    "mastodon-public": ReplyKind(
        "mastodon_channel",
        lambda sandbox: sandbox.add_mastodon_mention("Is het gemeentehuis open?", "gijs"),
        False,
        lambda sandbox: "/api/v1/statuses",
        lambda sandbox: sandbox.mastodon_replies(),
    ),
    "mastodon-direct": ReplyKind(
        "mastodon_channel",
        lambda sandbox: sandbox.add_mastodon_mention(
            "Mijn adres klopt niet.", "hanna", visibility="direct"
        ),
        True,
        lambda sandbox: "/api/v1/statuses",
        lambda sandbox: sandbox.mastodon_replies(),
    ),
    "facebook-comment-reply": ReplyKind(
        "page",
        lambda sandbox: sandbox.add_facebook_comment("Wanneer is de markt?", "Iris"),
        False,
        lambda sandbox: "/v25.0/",
        lambda sandbox: sandbox.facebook_comment_replies(),
    ),
    "facebook-messenger": ReplyKind(
        "page",
        lambda sandbox: sandbox.add_facebook_message("Is mijn paspoort klaar?", "Joost"),
        True,
        lambda sandbox: f"/v25.0/{FACEBOOK_PAGE_ID}/messages",
        lambda sandbox: sandbox.facebook_message_replies(),
    ),
    "facebook-private-reply-to-a-comment": ReplyKind(
        "page",
        lambda sandbox: sandbox.add_facebook_comment("Kan iemand mij bellen?", "Karin"),
        True,
        lambda sandbox: f"/v25.0/{FACEBOOK_PAGE_ID}/messages",
        lambda sandbox: sandbox.facebook_message_replies(),
    ),
}


@pytest.fixture
def page(db: None, sandbox: SandboxServer) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )


def queued_reply(request, kind: ReplyKind, sandbox: SandboxServer, agent, text: str) -> Message:
    channel = request.getfixturevalue(kind.channel_fixture)
    kind.citizen_writes(sandbox)
    outcome = channel_poll(channel_id=channel.id)
    assert outcome.succeeded, outcome.error
    conversation = Conversation.objects.get(channel=channel)
    return reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text=text,
        idempotency_key=uuid.uuid4(),
        private=kind.private,
    )


def sent_via(message: Message) -> str:
    return AuditEvent.objects.get(action="reply.sent", message=message).data["via"]


@pytest.mark.parametrize("kind_name", KINDS)
@pytest.mark.parametrize(
    "loss",
    [
        pytest.param({"status": 503}, id="5xx-after-acting"),
        pytest.param({"status": None, "delay_seconds": 2.5}, id="read-timeout-after-acting"),
    ],
)
def test_an_answer_lost_after_the_platform_acted_is_found_not_posted_again(
    request, sandbox, agent, settings, kind_name, loss
):
    settings.WEBCARE_PLATFORM_TIMEOUT = 1
    kind = KINDS[kind_name]
    reply = queued_reply(request, kind, sandbox, agent, "Wij kijken het na en melden ons.")
    sandbox.add_fault(
        path_prefix=kind.post_path(sandbox), method="POST", after_processing=True, **loss
    )

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    assert reply.external_id is None
    assert len(kind.copies(sandbox)) == 1

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [copy] = kind.copies(sandbox)
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == str(copy["id"])
    assert sent_via(reply) == "found_on_platform"
    assert reply.delivery_attempts == 2


@pytest.mark.parametrize("kind_name", KINDS)
def test_an_attempt_the_platform_refused_before_acting_is_posted_once_by_the_next(
    request, sandbox, agent, kind_name
):
    kind = KINDS[kind_name]
    reply = queued_reply(request, kind, sandbox, agent, "Wij kijken het na en melden ons.")
    sandbox.add_fault(path_prefix=kind.post_path(sandbox), method="POST", status=503)

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    assert kind.copies(sandbox) == []

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [copy] = kind.copies(sandbox)
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == str(copy["id"])
    assert sent_via(reply) == "send"
