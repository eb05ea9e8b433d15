"""Property: however webhooks and polls interleave, every Facebook message is stored once.

Hypothesis draws a page's timeline (top-level comments, replies to them, Messenger messages,
some written by the page itself) and a schedule of webhook deliveries (batched, redelivered)
and polls (overlapping windows built with the polling connector's keys), any of which may
crash before commit. After the schedule plus one final complete poll, the inbox holds
exactly the citizens' messages, each once, in the poll's conversations, no echo as a
citizen message, and the cursor is the last committed poll's: webhooks never move it.
(Modelled on tests/inbox/test_ingest_properties.py.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from channels.models import Channel
from channels.services import channel_create, channel_receive_facebook_webhook
from inbox.models import Contact, Conversation, Message
from inbox.services import messages_ingest

PAGE_ID = "102030405060708"
POST_ID = f"{PAGE_ID}_900001"


class CrashBeforeCommit(Exception):
    pass


@dataclass(frozen=True)
class Item:
    """One platform message, as a webhook would carry it and as a poll would read it."""

    webhook_entry: dict[str, Any]
    polled: PlatformMessage


def timeline(specs: list[tuple[str, int, int, bool]]) -> list[Item]:
    start = int(timezone.now().timestamp()) - 3600
    items: list[Item] = []
    tops: list[str] = []
    # The citizen's latest comment per thread / message per PSID, as the poller tracks it.
    last_citizen: dict[str, str] = {}
    for number, (kind, citizen, top, by_page) in enumerate(specs):
        created = start + number
        sent_at = datetime.fromtimestamp(created, UTC)
        author_id = PAGE_ID if by_page else f"20000000000000{citizen:02d}"
        author = PlatformAuthor(external_id=author_id)
        if kind == "messenger":
            psid = f"20000000000000{citizen:02d}"
            mid = f"m_{number:06d}"
            thread = f"fb-messenger:{psid}"
            sender, recipient = (PAGE_ID, psid) if by_page else (psid, PAGE_ID)
            message: dict[str, Any] = {"mid": mid, "text": f"Bericht {number}"}
            if by_page:
                message["is_echo"] = True
            entry = {
                "id": PAGE_ID,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": recipient},
                        "timestamp": created * 1000,
                        "message": message,
                    }
                ],
            }
            polled = PlatformMessage(
                external_id=mid,
                thread_key=thread,
                author=author,
                text=f"Bericht {number}",
                sent_at=sent_at,
                in_reply_to_external_id=last_citizen.get(thread, "") if by_page else "",
                is_from_account=by_page,
                is_private=True,
            )
        else:
            comment_id = f"900001_{number:06d}"
            parent = tops[top % len(tops)] if kind == "reply" and tops else ""
            if not parent:
                tops.append(comment_id)
            thread = f"fb-comment:{parent or comment_id}"
            entry = {
                "id": PAGE_ID,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "comment_id": comment_id,
                            "post_id": POST_ID,
                            "parent_id": parent or POST_ID,
                            "from": {"id": author_id, "name": f"Burger {citizen}"},
                            "message": f"Reactie {number}",
                            "created_time": created,
                        },
                    }
                ],
            }
            polled = PlatformMessage(
                external_id=comment_id,
                thread_key=thread,
                author=author,
                text=f"Reactie {number}",
                sent_at=sent_at,
                in_reply_to_external_id=last_citizen.get(thread, parent) if by_page else parent,
                is_from_account=by_page,
            )
        if not by_page:
            last_citizen[thread] = polled.external_id
        items.append(Item(webhook_entry=entry, polled=polled))
    return items


specs = st.lists(
    st.tuples(
        st.sampled_from(["comment", "reply", "messenger"]),
        st.integers(min_value=0, max_value=2),  # which citizen
        st.integers(min_value=0, max_value=3),  # which top-level comment a reply answers
        st.booleans(),  # written by the page itself
    ),
    min_size=1,
    max_size=16,
)
operations = st.lists(
    st.tuples(
        st.sampled_from(["webhook", "poll"]),
        st.integers(min_value=0, max_value=15),  # first message
        st.integers(min_value=1, max_value=6),  # how many (one webhook batches them)
        st.booleans(),  # crashes before commit
    ),
    max_size=14,
)


@pytest.fixture
def page(db: None) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=PAGE_ID,
        credentials={"access_token": "t", "app_secret": "s"},
    )


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=specs, schedule=operations)
def test_any_interleaving_of_webhooks_and_polls_stores_every_message_exactly_once(
    page, specs, schedule
):
    Conversation.objects.filter(channel=page).delete()
    Contact.objects.filter(channel=page).delete()
    Channel.objects.filter(id=page.id).update(cursor={})
    items = timeline(specs)
    committed_cursor: dict[str, Any] = {}

    for number, (operation, start, length, crashes) in enumerate(schedule):
        window = items[start : start + length]
        try:
            with transaction.atomic():
                if operation == "webhook":
                    payload = {"object": "page", "entry": [i.webhook_entry for i in window]}
                    channel_receive_facebook_webhook(
                        channel_id=page.id, body=json.dumps(payload).encode()
                    )
                else:
                    cursor = {"poll": number}
                    polled = [item.polled for item in reversed(window)]
                    messages_ingest(
                        channel_id=page.id, fetched=FetchResult(messages=polled, cursor=cursor)
                    )
                if crashes:
                    raise CrashBeforeCommit
        except CrashBeforeCommit:
            continue
        if operation == "poll":
            committed_cursor = cursor
        page.refresh_from_db()
        assert page.cursor == committed_cursor

    messages_ingest(
        channel_id=page.id,
        fetched=FetchResult(messages=[item.polled for item in items], cursor={"done": 1}),
    )

    citizens = {i.polled.external_id: i.polled for i in items if not i.polled.is_from_account}
    inbound = Message.objects.filter(channel=page, direction=Message.Direction.INBOUND)
    assert sorted(inbound.values_list("external_id", flat=True)) == sorted(citizens)
    for external_id, thread, private in inbound.values_list(
        "external_id", "conversation__external_thread_id", "conversation__is_private"
    ):
        assert thread == citizens[external_id].thread_key
        assert private == citizens[external_id].is_private
    stored = list(Message.objects.filter(channel=page).values_list("external_id", flat=True))
    assert len(stored) == len(set(stored))
    assert not inbound.filter(author_contact__external_id=PAGE_ID).exists()
