"""Throughput and latency figures, printed rather than asserted (shared, noisy machines).

Run with `make bench-micro`. Each figure is the median of several repetitions; the assertions
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

from channels.models import Channel
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.sandbox.webhooks import WebhookDeliverer
from channels.services import channel_create, channel_poll
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
    signal with a copy of the context) and `make bench-micro` loads settings with DEBUG=1, which
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


def _poll_rounds(channel, add_messages: Callable[[int, int], None], count: int) -> float:
    timings = []
    for round_number in range(3):
        add_messages(round_number, count)
        started = time.perf_counter()
        outcome = channel_poll(channel_id=channel.id)
        timings.append(time.perf_counter() - started)
        assert outcome.succeeded, outcome.error
        assert outcome.new_messages == count
    return statistics.median(timings)


def test_poll_and_ingest_throughput_of_mastodon_and_facebook(sandbox):
    count = 200
    mastodon = channel_create(
        kind=Channel.Kind.MASTODON,
        name="bench-mastodon",
        account_id=MASTODON_ACCOUNT_ID,
        api_base_url=sandbox.url,
        credentials=dict(MASTODON_CREDENTIALS),
    )
    facebook = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="bench-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )

    def mentions(round_number: int, count: int) -> None:
        for number in range(count):
            sandbox.add_mastodon_mention(f"Ronde {round_number} vraag {number}", f"b{number % 40}")

    def comments(round_number: int, count: int) -> None:
        for number in range(count):
            sandbox.add_facebook_comment(f"Ronde {round_number} vraag {number}", f"B {number % 40}")

    for name, channel, add in (
        ("Mastodon mentions (40 per page, Mastodon.py)", mastodon, mentions),
        ("Facebook comments (facebook-sdk)", facebook, comments),
    ):
        seconds = _poll_rounds(channel, add, count)
        report(
            f"poll+ingest of {count} new {name}",
            f"{seconds:.2f} s median of 3, {count / seconds:.0f} messages/s",
        )
    assert Message.objects.count() == 2 * 3 * count


def test_webhook_latency_from_sandbox_to_stored(live_server, transactional_db, sandbox):
    page = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="bench-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )
    deliverer = WebhookDeliverer(
        live_server.url + reverse("facebook_webhook", args=[page.name]),
        app_secret=FACEBOOK_CREDENTIALS["app_secret"],
    )
    sandbox.on_facebook_event = deliverer
    latencies = []
    try:
        for number in range(40):
            started = time.perf_counter()
            comment = sandbox.add_facebook_comment(f"Vraag {number} via webhook", "Wim")
            while not Message.objects.filter(external_id=comment["id"]).exists():
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)
    finally:
        sandbox.on_facebook_event = None
        deliverer.close()
    latencies.sort()
    report(
        "webhook: citizen comment on the sandbox to stored message (live server, signed)",
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms over {len(latencies)}",
    )
    assert Message.objects.filter(channel=page).count() == 40
