"""The hostile corpus travels through the sandbox and the real connectors into the inbox:
every payload is stored as the citizen wrote it (only what PostgreSQL cannot hold is
dropped), no poll fails, and no dangerous URL is kept where it would be linked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.models import Channel
from channels.services import channel_poll
from inbox.models import Contact, Message
from inbox.text import DISPLAY_NAME_LENGTH, storable_text
from tests.hostile.payloads import BY_ID, PAYLOADS, Payload, categories
from tests.hostile.seed import _mastodon_notification, facebook_channel_create, seed_citizens

pytestmark = pytest.mark.django_db


def test_the_corpus_has_over_a_hundred_payloads_in_every_category() -> None:
    counts = categories()
    assert sum(counts.values()) >= 100
    assert set(counts) >= {
        "script", "handler", "url", "svg", "breakout", "template", "css", "entity",
        "bidi", "zerowidth", "homoglyph", "long", "control", "unicode",
    }  # fmt: skip
    assert min(counts.values()) >= 6


def test_every_payload_arrives_through_every_platform_as_the_citizen_wrote_it(
    sandbox, channel, mastodon_channel
) -> None:
    facebook = facebook_channel_create(sandbox)
    seed_citizens(sandbox, {"x": channel, "mastodon": mastodon_channel, "facebook": facebook})

    for kind, polled in (("x", channel), ("mastodon", mastodon_channel), ("facebook", facebook)):
        polled.refresh_from_db()
        assert polled.health == Channel.Health.OK, (kind, polled.last_error)
        stored = list(
            Message.objects.filter(channel=polled, direction="inbound").values_list(
                "text", flat=True
            )
        )
        # Whitespace compared as a reader sees it (Mastodon's HTML collapses it).
        readable = [" ".join(text.split()) for text in stored]
        for payload in PAYLOADS:
            # What a person reads is kept; NUL and lone surrogates cannot be stored.
            wanted = " ".join(storable_text(payload.text).split())[:200]
            assert any(wanted in text for text in readable), (kind, payload.id)
    # Nothing with a dangerous scheme is kept where a template would link it.
    for message in Message.objects.exclude(attachments=[]):
        for attachment in message.attachments:
            assert attachment["url"].startswith("https://"), attachment
            assert attachment["preview_url"] == "" or attachment["preview_url"].startswith(
                "https://"
            ), attachment


# Needs inbox/services/ingest.py to store contacts through inbox.text.storable_author
# (the lead applies it; then remove this mark and NAME_LENGTH in seed.py).
def test_an_over_long_name_or_a_javascript_avatar_does_not_stop_the_poll(
    sandbox, mastodon_channel
) -> None:
    long_name = BY_ID["long-05"].text + BY_ID["long-06"].text
    sandbox.add_mastodon_raw_notification(
        _mastodon_notification(
            account_number=7,
            name=Payload("long-name", "long", long_name, as_name=True),
            content="<p>Hallo</p>",
            moment=datetime.now(UTC),
        )
    )
    sandbox.add_mastodon_mention("Nog een vraag", "els")

    outcome = channel_poll(channel_id=mastodon_channel.id)

    assert outcome.succeeded, outcome.error
    assert outcome.new_messages == 2
    contact = Contact.objects.get(display_name__startswith="NNN")
    assert contact.display_name == long_name[:DISPLAY_NAME_LENGTH]
    assert contact.avatar_url == ""
