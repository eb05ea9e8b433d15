"""Search latency over 200,000 messages, 20,000 notes and 150,000 contacts (printed, not
asserted; run with `make bench-micro`). docs/architecture.md, "Search", quotes the figures.

The corpus is generated in SQL (tests/inbox/search_corpus.py): ~12 random words per message
out of ~150 Dutch words, so "container" is in about one message in eleven (a common word with
18,000 matches), "lantaarnpaal kapot" in about one in 150, and the phrase "grofvuil ophalen"
in about one in 1,500.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

# The production-like template rendering of the page benchmark, shared with it.
from bench.micro.test_benchmarks import production_template_rendering  # noqa: F401
from inbox.models import Message
from inbox.selectors.search import (
    SearchFilters,
    contacts_search,
    messages_search,
    search,
)
from tests.conftest import PASSWORD
from tests.inbox.search_corpus import generate_search_corpus

pytestmark = pytest.mark.django_db

MESSAGES = 200_000
REPETITIONS = 30
QUERIES = ("container", "lantaarnpaal kapot", '"grofvuil ophalen"')


def report(name: str, value: str) -> None:
    print(f"\nBENCHMARK {name}: {value}")


def percentiles_ms(work: Callable[[], object], repetitions: int = REPETITIONS) -> str:
    work()  # warm-up: the first run reads the index pages from disk
    timings = []
    for _ in range(repetitions):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return (
        f"p50 {statistics.median(timings) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
        f" over {repetitions}"
    )


def _plans_of_messages_search(text: str) -> list[str]:
    """EXPLAIN ANALYZE of the SELECTs of messages_search, in their planner settings: the
    newest id, the candidates (recent rows first), their ranking, the page's rows."""
    with CaptureQueriesContext(connection) as queries:
        messages_search(text, SearchFilters())
    plans: list[str] = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if not sql.startswith("SELECT"):
            continue
        recent_candidates = '"inbox_message"."id" >' in sql
        with transaction.atomic(), connection.cursor() as cursor:
            if recent_candidates:
                cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}")
            plans.extend(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
    return plans


@pytest.mark.usefixtures("production_template_rendering")
def test_search_latency_over_200k_messages(client, channel, agent):
    started = time.perf_counter()
    generate_search_corpus(
        channel, contacts=150_000, conversations=50_000, messages=MESSAGES, notes=20_000
    )
    report(
        f"search corpus: {MESSAGES} messages, 20,000 notes, 150,000 contacts generated",
        f"{time.perf_counter() - started:.1f} s",
    )
    assert Message.objects.count() == MESSAGES

    for text in QUERIES:
        page = messages_search(text, SearchFilters())
        assert page.items, f"the corpus has no match for {text}"
        found = "more than 1000" if page.is_capped else str(page.total)
        report(
            f"messages_search({text!r}), {found} matches",
            percentiles_ms(lambda text=text: messages_search(text, SearchFilters())),
        )
        report(
            f"search({text!r}): messages page + 5 notes + 5 contacts",
            percentiles_ms(lambda text=text: search(text, SearchFilters())),
        )

    filters = SearchFilters(direction="inbound", status="open")
    report(
        "messages_search('lantaarnpaal kapot') from citizens in open conversations",
        percentiles_ms(lambda: messages_search("lantaarnpaal kapot", filters)),
    )
    report(
        "contacts_search('jan dev') over 150,000 contacts",
        percentiles_ms(lambda: contacts_search("jan dev", SearchFilters())),
    )

    assert client.login(username=agent.user.username, password=PASSWORD)
    url = reverse("inbox:search")
    assert client.get(url, {"q": "container"}).status_code == 200
    report(
        "search page /search/?q=container (whole request, test client)",
        percentiles_ms(lambda: client.get(url, {"q": "container"}), repetitions=10),
    )

    for text in ("container", '"grofvuil ophalen"'):
        plan = _plans_of_messages_search(text)
        print(f"\nBENCHMARK plans of the two messages queries for {text!r}:")
        print("\n".join(f"    {line}" for line in plan))
        assert any("message_search_idx" in line for line in plan)
