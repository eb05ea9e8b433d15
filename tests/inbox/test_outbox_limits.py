"""Where reconciliation could mistake one reply for another, or give up silently: each case
narrowed in the connectors or the outbox (docs/architecture.md, "Exactly-once replies")."""

from __future__ import annotations

import uuid

import pytest

from channels.base import PlatformAuthor, ReplyTarget, SentReply
from channels.facebook import FacebookConnector
from channels.services import channel_poll
from inbox.models import AuditEvent, Message
from inbox.services import (
    MAX_DELIVERY_ATTEMPTS,
    UNKNOWN_OUTCOME_MIN_BACKOFF_SECONDS,
    reply_create,
    reply_deliver,
    reply_mark_failed,
    reply_mark_sent,
    reply_retry,
)
from tests.inbox.test_outbox_reconciliation import (  # noqa: F401 (page: a fixture)
    KINDS,
    page,
    queued_reply,
    sent_via,
)

pytestmark = pytest.mark.django_db


def another_reply(message: Message, agent, text: str) -> Message:
    return reply_create(
        conversation_id=message.conversation_id,
        actor=agent.user,
        text=text,
        idempotency_key=uuid.uuid4(),
        private=message.is_private,
    )


# X refuses a tweet with the same text twice, and Facebook one private reply per comment:
# there the platform itself forbids a second identical reply.
REPEATABLE = [
    name for name in KINDS if name not in {"x-public-reply", "facebook-private-reply-to-a-comment"}
]


@pytest.mark.parametrize("kind_name", REPEATABLE)
def test_a_second_reply_with_the_same_text_is_posted_not_taken_for_the_first(
    request, sandbox, agent, kind_name
):
    kind = KINDS[kind_name]
    first = queued_reply(request, kind, sandbox, agent, "Dank u wel, wij pakken het op.")
    reply_deliver(message_id=first.id)
    second = another_reply(first, agent, "Dank u wel, wij pakken het op.")
    # The second's first attempt is refused before the platform acts: its next attempt
    # looks first and sees only the first reply, which is not this one.
    sandbox.add_fault(path_prefix=kind.post_path(sandbox), method="POST", status=503)
    reply_deliver(message_id=second.id)
    reply_deliver(message_id=second.id)

    first.refresh_from_db()
    second.refresh_from_db()
    copies = kind.copies(sandbox)
    assert len(copies) == 2
    assert second.delivery_status == Message.DeliveryStatus.SENT
    assert {first.external_id, second.external_id} == {str(copy["id"]) for copy in copies}
    assert sent_via(second) == "send"


def test_two_mastodon_replies_with_the_same_words_are_two_statuses(
    request, sandbox, agent, mastodon_channel
):
    # The Idempotency-Key is the reply's own key, not a digest of its text: Mastodon must
    # not hand the first status back for the second reply.
    kind = KINDS["mastodon-public"]
    first = queued_reply(request, kind, sandbox, agent, "Graag gedaan!")
    reply_deliver(message_id=first.id)
    second = another_reply(first, agent, "Graag gedaan!")
    reply_deliver(message_id=second.id)

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.delivery_status == Message.DeliveryStatus.SENT
    assert second.external_id != first.external_id
    assert len(sandbox.mastodon_replies()) == 2


def test_a_reply_typed_with_combining_accents_is_found_after_a_lost_answer(request, sandbox, agent):
    # "é" typed as e + U+0301 (macOS input): X stores the NFC form.
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Het cafe\u0301 is open tot 22 uur.")
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=503, after_processing=True)

    reply_deliver(message_id=reply.id)
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [copy] = sandbox.replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == copy["id"]


def test_an_unknown_outcome_to_the_last_attempt_fails_saying_check_the_platform(
    request, sandbox, agent
):
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    # Every attempt times out on a 503 before X acts; we cannot know that.
    sandbox.add_fault(
        path_prefix="/2/tweets", method="POST", status=503, count=MAX_DELIVERY_ATTEMPTS
    )
    for _attempt in range(MAX_DELIVERY_ATTEMPTS):
        reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert "may have reached the platform" in reply.delivery_error
    assert sandbox.replies() == []

    reply_retry(message_id=reply.id, actor=agent.user)
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [copy] = sandbox.replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == copy["id"]


def test_credentials_revoked_before_the_look_fail_the_reply_saying_check_the_platform(
    request, sandbox, agent
):
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=503, after_processing=True)
    reply_deliver(message_id=reply.id)
    # The look at our timeline is refused: X no longer accepts the token.
    sandbox.add_fault(path_prefix="/2/users/", method="GET", status=401)

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert reply.delivery_error.startswith("Could not check on the platform")
    assert len(sandbox.replies()) == 1

    # Once the credentials work again, Try again finds it instead of posting a second.
    reply_retry(message_id=reply.id, actor=agent.user)
    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    [copy] = sandbox.replies()
    assert reply.external_id == copy["id"]
    assert sent_via(reply) == "found_on_platform"


def test_a_rate_limit_while_looking_waits_and_looks_again(request, sandbox, agent):
    kind = KINDS["mastodon-public"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij kijken ernaar.")
    sandbox.add_fault(
        path_prefix="/api/v1/statuses", method="POST", status=503, after_processing=True
    )
    reply_deliver(message_id=reply.id)
    sandbox.add_fault(path_prefix="/api/v1/accounts/", method="GET", status=429)

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    assert len(sandbox.mastodon_replies()) == 1

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert sent_via(reply) == "found_on_platform"
    assert len(sandbox.mastodon_replies()) == 1


def test_a_cut_off_answer_while_looking_looks_again_instead_of_failing(request, sandbox, agent):
    """Found by the chaos suite: the look's answer was cut off (truncated JSON) after a lost
    answer to the post. Failing would call a reply that arrived "failed"; it looks again."""
    kind = KINDS["mastodon-public"]
    reply = queued_reply(request, kind, sandbox, agent, "Het staat op de planning.")
    sandbox.add_fault(
        path_prefix="/api/v1/statuses", method="POST", status=503, after_processing=True
    )
    reply_deliver(message_id=reply.id)
    sandbox.add_fault(path_prefix="/api/v1/accounts/", status=None, method="GET", spoil="truncate")

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    assert len(sandbox.mastodon_replies()) == 1

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert sent_via(reply) == "found_on_platform"
    assert len(sandbox.mastodon_replies()) == 1


def test_a_second_private_reply_to_a_comment_is_refused_with_a_hint_to_check_messenger(
    request, sandbox, agent
):
    """Facebook allows one private reply per comment: a repost after a look that missed the
    first is refused, and the agent is told it probably arrived."""
    kind = KINDS["facebook-private-reply-to-a-comment"]
    reply = queued_reply(request, kind, sandbox, agent, "Ik stuur u een bericht.")
    sandbox.add_fault(path_prefix=kind.post_path(sandbox), method="POST", status=503)
    reply_deliver(message_id=reply.id)
    # Meanwhile the page answered privately from Facebook itself, with other words.
    connector = FacebookConnector(reply.channel)
    connector.send_reply(
        text="Zie Messenger.",
        target=ReplyTarget(
            in_reply_to_external_id=reply.in_reply_to_external_id,
            recipient=PlatformAuthor(external_id=reply.conversation.contact.external_id),
            thread_key=reply.conversation.external_thread_id,
            private=True,
        ),
    )

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert "already has a private reply" in reply.delivery_error
    assert len(sandbox.facebook_message_replies()) == 1


def test_marking_a_reply_sent_twice_records_it_once(request, sandbox, agent):
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()

    reply_mark_sent(message_id=reply.id, sent=SentReply(reply.external_id, {}))

    assert AuditEvent.objects.filter(action="reply.sent", message=reply).count() == 1
    assert not AuditEvent.objects.filter(action="reply.duplicate_posted").exists()


def test_a_second_platform_id_for_a_sent_reply_is_recorded_as_a_duplicate(request, sandbox, agent):
    """A stale attempt that posted again after a newer one recorded the reply: the second
    copy on the platform is not silently forgotten."""
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    first_id = reply.external_id

    reply_mark_sent(message_id=reply.id, sent=SentReply("999000111", {}))

    reply.refresh_from_db()
    assert reply.external_id == first_id
    event = AuditEvent.objects.get(action="reply.duplicate_posted", message=reply)
    assert event.data["duplicate_external_id"] == "999000111"
    assert AuditEvent.objects.filter(action="reply.sent", message=reply).count() == 1


def test_a_platform_id_that_is_another_reply_fails_visibly_instead_of_looping(
    request, sandbox, agent
):
    kind = KINDS["x-public-reply"]
    first = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    reply_deliver(message_id=first.id)
    first.refresh_from_db()
    second = another_reply(first, agent, "Wij bellen u overmorgen.")

    reply_mark_sent(message_id=second.id, sent=SentReply(first.external_id, {}))

    second.refresh_from_db()
    assert second.delivery_status == Message.DeliveryStatus.FAILED
    assert second.external_id is None
    assert "another reply" in second.delivery_error


def test_after_an_unknown_outcome_the_look_waits_for_the_platform_to_catch_up(
    request, sandbox, agent
):
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=503, after_processing=True)

    reply_deliver(message_id=reply.id)

    event = AuditEvent.objects.get(action="reply.retry_scheduled", message=reply)
    # Plain back-off would look again after 10 s; a timeline may not show the post yet.
    assert event.data["retry_in_seconds"] == UNKNOWN_OUTCOME_MIN_BACKOFF_SECONDS


def test_a_repost_refused_as_a_duplicate_fails_saying_it_may_be_there(request, sandbox, agent):
    """The look misses our tweet (X shows it without its text), the repost is refused as
    duplicate content: the agent is told the reply may be on X after all."""
    kind = KINDS["x-public-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij bellen u morgen.")
    sandbox.add_fault(path_prefix="/2/tweets", method="POST", status=503, after_processing=True)
    reply_deliver(message_id=reply.id)
    sandbox.add_fault(path_prefix="/2/users/", method="GET", spoil="strip_item", status=None)

    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert "duplicate content" in reply.delivery_error
    assert "may be on the platform already" in reply.delivery_error
    assert len(sandbox.replies()) == 1


def test_an_echo_of_a_failed_reply_completes_it(request, sandbox, agent):
    """The row gave up although the platform had it: the next poll sees our copy and
    completes the failed row (one outbound message, sent), without the agent trying again."""
    kind = KINDS["facebook-comment-reply"]
    reply = queued_reply(request, kind, sandbox, agent, "Wij hebben het doorgegeven.")
    sandbox.add_fault(
        path_prefix=kind.post_path(sandbox), method="POST", status=503, after_processing=True
    )
    reply_deliver(message_id=reply.id)
    reply_mark_failed(message_id=reply.id, error="Gave up (as if after six attempts).")
    assert channel_poll(channel_id=reply.channel_id).succeeded

    reply.refresh_from_db()
    [copy] = kind.copies(sandbox)
    outbound = Message.objects.filter(
        conversation_id=reply.conversation_id, direction=Message.Direction.OUTBOUND
    )
    assert list(outbound) == [reply]
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.delivery_error == ""
    assert reply.external_id == copy["id"]
    assert AuditEvent.objects.filter(action="reply.sent", message=reply, data__via="echo").exists()
    assert not AuditEvent.objects.filter(action="reply.seen_outside_webcare").exists()
