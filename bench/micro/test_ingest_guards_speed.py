"""What the guards cost ingest: 2,000 messages through the real ingest service with the
personal-data and formal-request detectors on and off, twice each, in turns (printed, not
asserted; `make bench-micro`)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from inbox.models import Message
from inbox.services import messages_ingest

pytestmark = pytest.mark.django_db

# A mix like a normal day: most messages flag nothing.
TEXTS = (
    "Mijn container is vandaag weer niet geleegd, wat is er aan de hand?",
    "Wanneer wordt het grofvuil opgehaald in de Vogelwijk?",
    "Ik wil bezwaar maken tegen de WOZ-waarde van mijn huis",
    "Bel me even op 06-12345678 als dat kan",
    "Lantaarnpaal kapot op de Dorpsstraat 12, al drie dagen donker",
    "Thanks for the quick help yesterday! Great service.",
    "Hoe vraag ik een parkeervergunning aan?",
    "De stoep ligt open sinds 2 weken, wanneer wordt dat gemaakt?",
)


@pytest.mark.parametrize("guards_on", [False, True, False, True])
def test_measure_ingest_of_2000_messages(channel, monkeypatch, guards_on):
    if not guards_on:
        monkeypatch.setattr("inbox.services.ingest.find_formal_requests", lambda text: [])
        monkeypatch.setattr("inbox.services.ingest.personal_data_found", lambda text: [])
    start = timezone.now() - timedelta(days=1)
    messages = [
        PlatformMessage(
            external_id=f"bench-{number}",
            thread_key=f"bench-thread-{number % 200}",
            author=PlatformAuthor(external_id=f"bench-user-{number % 200}", username="burger"),
            text=f"{TEXTS[number % len(TEXTS)]} ({number})",
            sent_at=start + timedelta(seconds=number),
        )
        for number in range(2000)
    ]
    began, began_cpu = time.perf_counter(), time.process_time()
    for batch in range(0, 2000, 100):
        messages_ingest(
            channel_id=channel.id,
            fetched=FetchResult(messages=messages[batch : batch + 100], cursor={}),
        )
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    guards = "on" if guards_on else "off"
    print(
        f"\ningest of 2000 messages, guards {guards}: {elapsed:.2f} s ({cpu:.2f} s CPU in Python)"
    )
    assert Message.objects.filter(external_id__startswith="bench-").count() == 2000
