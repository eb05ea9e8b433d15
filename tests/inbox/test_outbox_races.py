"""Races around one reply: two deliveries at once, an agent's retry during a delivery, our
own echo arriving through a poll before the delivery is recorded."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from channels.base import PlatformAuthor, ReplyTarget
from channels.registry import get_connector
from channels.services import channel_poll
from inbox.models import AuditEvent, Message
from inbox.services import (
    ServiceError,
    reply_claim_for_sending,
    reply_deliver,
    reply_mark_sent,
    reply_retry,
)
from tests.inbox.test_outbox_reconciliation import (  # noqa: F401 (page: a fixture)
    KINDS,
    page,
    queued_reply,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_delivering_the_same_reply_post_it_once(request, sandbox, agent):
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij komen morgen langs.")
    # The POST takes a while, so both workers are inside reply_deliver at the same time.
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=None, delay_seconds=1.5)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            reply_deliver(message_id=reply.id)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)

    assert errors == []
    reply.refresh_from_db()
    [copy] = sandbox.replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == copy["id"]
    # One claim won; the other found the row no longer queued and stopped.
    assert reply.delivery_attempts == 1
    assert AuditEvent.objects.filter(action="reply.sent", message=reply).count() == 1


def test_a_claimed_reply_cannot_be_claimed_again(request, sandbox, agent):
    reply = queued_reply(request, KINDS["mastodon-public"], sandbox, agent, "Graag gedaan.")

    assert reply_claim_for_sending(message_id=reply.id) is not None
    assert reply_claim_for_sending(message_id=reply.id) is None

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENDING
    assert reply.delivery_attempts == 1


def test_an_agents_retry_during_a_delivery_is_refused(request, sandbox, agent):
    reply = queued_reply(request, KINDS["x-public-reply"], sandbox, agent, "Wij bellen u.")
    reply_claim_for_sending(message_id=reply.id)

    with pytest.raises(ServiceError):
        reply_retry(message_id=reply.id, actor=agent.user)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENDING
    assert not AuditEvent.objects.filter(action="reply.retry_requested").exists()


@pytest.mark.parametrize(
    "kind_name", ["x-dm-in-a-dm-conversation", "facebook-comment-reply", "facebook-messenger"]
)
def test_our_echo_arriving_before_the_delivery_is_recorded_completes_the_reply_once(
    request, sandbox, agent, kind_name
):
    kind = KINDS[kind_name]
    reply = queued_reply(request, kind, sandbox, agent, "Wij pakken het vandaag op.")
    # A worker claimed the reply and the platform posted it; before the worker records
    # that, a poll reads our own message back.
    claimed = reply_claim_for_sending(message_id=reply.id)
    assert claimed is not None
    contact = claimed.conversation.contact
    sent = get_connector(claimed.channel).send_reply(
        text=claimed.text,
        target=ReplyTarget(
            in_reply_to_external_id=claimed.in_reply_to_external_id,
            recipient=PlatformAuthor(external_id=contact.external_id, username=contact.username),
            thread_key=claimed.conversation.external_thread_id,
            private=claimed.is_private,
        ),
    )
    outcome = channel_poll(channel_id=claimed.channel_id)
    assert outcome.succeeded, outcome.error

    reply_mark_sent(message_id=reply.id, sent=sent)

    reply.refresh_from_db()
    outbound = Message.objects.filter(
        conversation_id=reply.conversation_id, direction=Message.Direction.OUTBOUND
    )
    assert list(outbound) == [reply]
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent.external_id
    assert len(kind.copies(sandbox)) == 1
    [event] = AuditEvent.objects.filter(action="reply.sent", message=reply)
    assert event.data["via"] == "echo"
    assert not AuditEvent.objects.filter(action="reply.duplicate_posted").exists()
