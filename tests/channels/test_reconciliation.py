"""`find_reply` of each connector, against the sandbox over real HTTP: what counts as our
reply (the same target, the same words as the platform shows them, not older than the
reply, not already another reply of ours) and what does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from channels.base import Connector, PlatformAuthor, ReplyTarget
from channels.registry import get_connector
from channels.twitter import TwitterConnector
from inbox.models import Conversation
from tests.inbox.test_outbox_reconciliation import (  # noqa: F401 (page: a fixture)
    KINDS,
    page,
)

pytestmark = pytest.mark.django_db


def reply_target(request, kind_name: str, sandbox) -> tuple[Connector, ReplyTarget]:
    """The connector and the target of a reply to a freshly polled citizen message."""
    from channels.services import channel_poll

    kind = KINDS[kind_name]
    channel = request.getfixturevalue(kind.channel_fixture)
    kind.citizen_writes(sandbox)
    assert channel_poll(channel_id=channel.id).succeeded
    conversation = Conversation.objects.get(channel=channel)
    citizen = conversation.messages.get()
    return get_connector(channel), ReplyTarget(
        in_reply_to_external_id=citizen.external_id or "",
        recipient=PlatformAuthor(
            external_id=conversation.contact.external_id, username=conversation.contact.username
        ),
        thread_key=conversation.external_thread_id,
        private=kind.private,
    )


# X refuses the same tweet text twice, Facebook a second private reply to a comment.
TWICE = [
    name for name in KINDS if name not in {"x-public-reply", "facebook-private-reply-to-a-comment"}
]


@pytest.mark.parametrize("kind_name", TWICE)
def test_find_reply_skips_replies_already_recorded_and_replies_from_before(
    request, sandbox, kind_name
):
    connector, target = reply_target(request, kind_name, sandbox)
    not_before = timezone.now()
    # Two replies (two outbox rows, two keys) with the same words.
    older = connector.send_reply(
        text="Dank u voor uw bericht.", target=replace(target, reply_key="first")
    )
    newer = connector.send_reply(
        text="Dank u voor uw bericht.", target=replace(target, reply_key="second")
    )
    assert older.external_id != newer.external_id

    found = {
        connector.find_reply(
            text="Dank u voor uw bericht.",
            target=target,
            not_before=not_before,
            skip_ids={skipped.external_id},
        ).external_id
        for skipped in (older, newer)
    }
    both_skipped = connector.find_reply(
        text="Dank u voor uw bericht.",
        target=target,
        not_before=not_before,
        skip_ids={older.external_id, newer.external_id},
    )
    written_later = connector.find_reply(
        text="Dank u voor uw bericht.",
        target=target,
        not_before=timezone.now() + timedelta(minutes=5),
    )

    assert found == {older.external_id, newer.external_id}
    assert both_skipped is None
    assert written_later is None


@pytest.mark.parametrize("kind_name", KINDS)
def test_find_reply_ignores_whitespace_and_composed_accents_but_not_other_words(
    request, sandbox, kind_name
):
    connector, target = reply_target(request, kind_name, sandbox)
    not_before = timezone.now()
    posted = connector.send_reply(text="Het café  is\nopen.", target=target)

    same = connector.find_reply(
        text="Het cafe\u0301 is open.", target=target, not_before=not_before
    )
    other = connector.find_reply(text="Het café is dicht.", target=target, not_before=not_before)

    assert same is not None
    assert same.external_id == posted.external_id
    assert other is None


def test_find_reply_reads_a_tweet_as_x_shows_it(channel, sandbox):
    """X puts the mentions of a reply in front and wraps links in t.co: still ours."""
    mention = sandbox.add_mention("Waar staat de afvalkalender?", "daan")
    connector = TwitterConnector(channel)
    target = ReplyTarget(
        in_reply_to_external_id=mention["id"],
        recipient=PlatformAuthor(external_id=mention["author_id"], username="daan"),
        thread_key=f"{mention['id']}:{mention['author_id']}",
    )
    not_before = timezone.now()
    posted = connector.send_reply(text="@daan Kijk op https://t.co/Ab12Cd  hier.", target=target)

    found = connector.find_reply(
        text="Kijk op https://www.demodorp.nl/afvalkalender hier.",
        target=target,
        not_before=not_before,
    )
    other_words = connector.find_reply(
        text="Kijk op https://www.demodorp.nl/afvalkalender daar.",
        target=target,
        not_before=not_before,
    )

    assert found is not None
    assert found.external_id == posted.external_id
    assert other_words is None


def test_an_identical_dm_from_before_the_reply_was_written_is_not_taken_for_it(channel, sandbox):
    citizen = sandbox.add_direct_message("Is de milieustraat open?", "noor")
    connector = TwitterConnector(channel)
    target = ReplyTarget(
        in_reply_to_external_id=citizen["id"],
        recipient=PlatformAuthor(external_id=citizen["sender_id"]),
        thread_key=f"dm:{citizen['dm_conversation_id']}",
        private=True,
    )
    connector.send_reply(text="Ja, tot 16 uur.", target=target)

    # The same words, but in a reply written five minutes after that message was sent.
    later = timezone.now() + timedelta(minutes=5)
    assert connector.find_reply(text="Ja, tot 16 uur.", target=target, not_before=later) is None
    assert connector.find_reply(text="Ja, tot 16 uur.", target=target, not_before=timezone.now())
