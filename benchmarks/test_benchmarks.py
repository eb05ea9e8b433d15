"""Throughput and latency figures, printed rather than asserted (shared, noisy machines).

Run with `make bench`. Each figure is the median of several repetitions; the assertions
only check that the measured work really happened.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels.services import channel_poll
from inbox.models import Message
from inbox.services import conversations_assign_waiting
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

REPETITIONS = 5


def median_seconds(work: Callable[[], object], repetitions: int = REPETITIONS) -> float:
    timings = []
    for _ in range(repetitions):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def report(name: str, value: str) -> None:
    print(f"\nBENCHMARK {name}: {value}")


def test_poll_and_ingest_throughput(channel, sandbox):
    count = 500
    timings = []
    for round_number in range(3):
        for number in range(count):
            sandbox.add_mention(
                text=f"Ronde {round_number} vraag {number} over het afval",
                username=f"burger{number % 50}",
                name=f"Burger {number % 50}",
            )
        started = time.perf_counter()
        outcome = channel_poll(channel_id=channel.id)
        timings.append(time.perf_counter() - started)
        assert outcome.new_messages == count
    seconds = statistics.median(timings)
    report(
        "poll+ingest of 500 new mentions (5 pages over HTTP, tweepy, one transaction)",
        f"{seconds:.2f} s median of 3, {count / seconds:.0f} messages/s",
    )
    assert Message.objects.count() == 3 * count


@pytest.fixture
def production_template_rendering(monkeypatch, settings):
    """Render templates as production does. pytest-django instruments every render (a
    signal with a copy of the context) and `make bench` loads settings with DEBUG=1, which
    turns on template debugging; both cost more than the rendering itself."""
    from django.template import Template
    from django.test.utils import _TestState

    monkeypatch.setattr(Template, "_render", _TestState.saved_data.template_render)
    templates = [
        dict(engine, OPTIONS={**engine["OPTIONS"], "debug": False}) for engine in settings.TEMPLATES
    ]
    settings.TEMPLATES = templates


def test_inbox_and_dashboard_latency(
    client, channel, agent, second_agent, team_lead, production_template_rendering
):
    start = timezone.now() - timedelta(days=3)
    for number in range(400):
        citizen_writes(channel, username=f"burger{number}", text=f"Vraag {number}", sent_at=start)
    conversations_assign_waiting()
    for number in range(100):
        citizen_writes(channel, username=f"wachtend{number}", text=f"Wacht {number}")

    with connection.cursor() as cursor:
        # Fresh tables have no statistics yet; a live database is analysed by autovacuum.
        cursor.execute("ANALYZE")
    assert client.login(username=agent.user.username, password=PASSWORD)
    inbox_url = reverse("inbox:inbox")
    assert client.get(inbox_url).status_code == 200  # warm-up: template compilation
    with CaptureQueriesContext(connection) as queries:
        assert client.get(inbox_url).status_code == 200
    inbox_queries = len(queries)
    inbox_seconds = median_seconds(lambda: client.get(inbox_url), repetitions=20)
    report(
        "inbox page, 200 own and 100 queued conversations (50 of each shown)",
        f"{inbox_seconds * 1000:.1f} ms median of 20, {inbox_queries} queries",
    )

    assert client.login(username=team_lead.user.username, password=PASSWORD)
    dashboard_url = reverse("inbox:dashboard")
    assert client.get(dashboard_url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(dashboard_url).status_code == 200
    dashboard_queries = len(queries)
    dashboard_seconds = median_seconds(lambda: client.get(dashboard_url), repetitions=20)
    report(
        "dashboard over 500 conversations",
        f"{dashboard_seconds * 1000:.1f} ms median of 20, {dashboard_queries} queries",
    )
