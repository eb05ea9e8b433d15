"""Speed of the topics hooks of the metrics refresh (printed, not asserted; `make bench-micro`)."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from channels.models import Channel
from inbox import services
from inbox.metrics.working_time import AMSTERDAM
from inbox.models import Message, MetricsTermDay
from inbox.services.topics import topic_rollups_rebuild, topics_refresh_for_conversations
from tests.inbox.test_topics import citizens_write

pytestmark = pytest.mark.django_db


def test_topic_hooks_on_a_day_of_5000_messages(channel: Channel, team_lead) -> None:
    """The time of each topics hook for a refresh batch of 500 conversations on a day with
    5,000 citizen messages."""
    rng = random.Random(6)  # noqa: S311 - a fixed corpus, not security
    for name, keywords in [("Afval", "afval, container"), ("Parkeren", "parkeren, #parkeren")]:
        services.topic_create(actor=team_lead.user, name=name, keywords=keywords)
    vocabulary = (
        "afval container geleegd parkeren vergunning lantaarnpaal kapot overlast buren fiets "
        "weesfiets brug stremming storing stroom water riool lekkage boom gevallen stoep tegel "
        "scheef speeltuin hondenpoep zwerfvuil glasbak vol vuilnis paspoort afspraak balie "
        "wachttijd belasting aanslag kwijtschelding #afval #parkeren #storing"
    )
    vocabulary_words = vocabulary.split()
    day = datetime(2026, 3, 10, 0, 0, tzinfo=AMSTERDAM).astimezone(UTC)
    messages = []
    for n in range(5000):
        words = rng.choices(vocabulary_words, k=rng.randint(5, 25))
        if n % 5 == 0:
            words += ["bel", "06-12345678", "Kerkstraat", "12"]
        if n % 7 == 0:
            words += ["https://demodorp.nl/afval", "@buurman"]
        sent = day + timedelta(seconds=rng.randint(0, 86399))
        messages.append((" ".join(words), f"burger{n % 1500}", sent))
    for start in range(0, 5000, 1000):
        citizens_write(channel, messages[start : start + 1000])
    batch = list(Message.objects.values_list("conversation_id", flat=True)[:500])
    hours = list(
        Message.objects.filter(conversation_id__in=batch).values_list("sent_at", flat=True)
    )

    started = time.perf_counter()
    topics_refresh_for_conversations(batch)
    refreshed = time.perf_counter()
    topic_rollups_rebuild(hours)
    rebuilt = time.perf_counter()
    hour_count = len({hour.replace(minute=0, second=0, microsecond=0) for hour in hours})
    print(
        f"\nBENCHMARK MessageTopic for 500 conversations: {refreshed - started:.3f} s;"
        f" MetricsTopicHour for {hour_count} hours"
        f" and MetricsTermDay for the day of 5,000 messages: {rebuilt - refreshed:.3f} s"
    )
    assert MetricsTermDay.objects.filter(day=date(2026, 3, 10)).exists()
