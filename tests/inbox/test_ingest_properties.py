"""Property: however polls overlap, repeat and crash, every platform message is stored once.

Hypothesis draws a platform timeline and a schedule of reads: overlapping windows, the same
page twice, reads that crash before commit (their cursor must not advance) and reads that
see our own replies again. After the schedule plus one final complete read, the inbox must
hold exactly the citizens' messages, each once, and no echo as a citizen message.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from channels.models import Channel
from inbox.models import Message
from inbox.services import messages_ingest

ACCOUNT_ID = "1600000000000000001"


class CrashBeforeCommit(Exception):
    pass


def timeline(size: int, echo_every: int) -> list[PlatformMessage]:
    start = timezone.now() - timedelta(hours=1)
    messages = []
    for number in range(size):
        is_echo = echo_every > 0 and number % echo_every == echo_every - 1
        author = ACCOUNT_ID if is_echo else f"citizen-{number % 4}"
        messages.append(
            PlatformMessage(
                external_id=str(10_000 + number),
                thread_key=f"thread-{number % 5}:{author}",
                author=PlatformAuthor(external_id=author, username=f"user{author}"),
                text=f"Bericht {number}",
                sent_at=start + timedelta(seconds=number),
                # Echoes answer the message before them, as a reply would.
                in_reply_to_external_id=str(10_000 + number - 1) if is_echo else "",
                is_from_account=is_echo,
            )
        )
    return messages


reads = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=29),  # window start
        st.integers(min_value=1, max_value=12),  # window length
        st.booleans(),  # crashes before commit
    ),
    max_size=12,
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=30), echo_every=st.integers(0, 4), schedule=reads)
def test_any_schedule_of_reads_stores_every_citizen_message_exactly_once(
    channel, size, echo_every, schedule
):
    Message.objects.filter(channel=channel).delete()
    Channel.objects.filter(id=channel.id).update(cursor={})
    messages = timeline(size, echo_every)

    for start, length, crashes in schedule:
        window = messages[start : start + length]
        cursor = {"read_up_to": window[-1].external_id} if window else {}
        fetched = FetchResult(messages=list(reversed(window)), cursor=cursor)
        try:
            with transaction.atomic():
                messages_ingest(channel_id=channel.id, fetched=fetched)
                if crashes:
                    raise CrashBeforeCommit
        except CrashBeforeCommit:
            pass
    messages_ingest(channel_id=channel.id, fetched=FetchResult(messages, cursor={"done": "1"}))

    citizen_ids = sorted(m.external_id for m in messages if not m.is_from_account)
    stored_inbound = sorted(
        Message.objects.filter(channel=channel, direction=Message.Direction.INBOUND).values_list(
            "external_id", flat=True
        )
    )
    assert stored_inbound == citizen_ids
    stored = list(Message.objects.filter(channel=channel).values_list("external_id", flat=True))
    assert len(stored) == len(set(stored))
    assert not Message.objects.filter(
        channel=channel, direction=Message.Direction.INBOUND, author_contact__external_id=ACCOUNT_ID
    ).exists()
