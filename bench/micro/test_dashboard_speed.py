"""The team lead's dashboard over a big history (printed, not asserted; `make bench-micro`).

Generates WEBCARE_BENCH_DASHBOARD_MESSAGES messages (default 1,000,000) over
WEBCARE_BENCH_DASHBOARD_DAYS days (default 730) with inbox/demo_history.py, the rows the
services would have left, then times:
- the generation (messages/s);
- the metrics refresh that derives every fact and rollup from them (conversations/s), as the
  beat task would after a bulk import;
- the dashboard for the last 7 and 90 days as a team lead (whole request through the test
  client: p50/p95 over 20 requests, and the number of queries);
- the CSV export of one table over 90 days.

For a quick run: WEBCARE_BENCH_DASHBOARD_MESSAGES=20000 make bench-micro.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

# The production-like template rendering of the page benchmark, shared with it.
from bench.micro.test_benchmarks import production_template_rendering  # noqa: F401
from bench.micro.test_search_speed import percentiles_ms, report
from inbox.demo_history import generate_history
from inbox.models import AgentProfile, CareCycle, Conversation, Message, Team
from inbox.services import staff_member_create, team_create, team_member_add
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

MESSAGES = int(os.environ.get("WEBCARE_BENCH_DASHBOARD_MESSAGES", "1000000"))
DAYS = int(os.environ.get("WEBCARE_BENCH_DASHBOARD_DAYS", "730"))
REQUESTS = 20
# A municipality's webcare team: twelve agents in four teams.
TEAMS = {
    "Algemeen": range(12),
    "Afval & Reiniging": range(0, 5),
    "Burgerzaken": range(4, 9),
    "Parkeren": range(8, 12),
}


def _metrics_refresh_to_completion() -> Callable[[], int] | None:
    """services.metrics_refresh until no marks are left; None while it is still a stub."""
    from inbox.services import metrics as metrics_services

    if (metrics_services.__doc__ or "").startswith("STUB"):
        return None

    def refresh() -> int:
        handled = 0
        while True:
            done = metrics_services.metrics_refresh(batch_size=500, time_budget=None)
            handled += done
            if not done or not metrics_services.metrics_pending_changes():
                return handled

    return refresh


def _page_figures(client, url: str, params: dict[str, str]) -> str:
    response = client.get(url, params)
    if response.status_code != 200:
        return f"not measured: the page answered {response.status_code}"
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    # Counted now: every request empties the connection's query log.
    count = len(queries.captured_queries)
    timings = percentiles_ms(lambda: client.get(url, params), repetitions=REQUESTS)
    return f"{timings}, {count} queries"


@pytest.mark.usefixtures("production_template_rendering")
def test_dashboard_over_a_big_history(channel, mastodon_channel, team_lead):
    agents = [
        staff_member_create(
            username=f"agent{number}",
            password=PASSWORD,
            first_name=f"Agent{number}",
            last_name="Bench",
            presence=AgentProfile.Presence.AVAILABLE,
        ).user
        for number in range(12)
    ]
    teams: list[Team] = []
    for name, members in TEAMS.items():
        team = team_create(
            actor=team_lead.user, name=name, description="", is_default=name == "Algemeen"
        )
        for number in members:
            team_member_add(actor=team_lead.user, team_id=team.pk, user_id=agents[number].pk)
        teams.append(team)

    started = time.perf_counter()
    result = generate_history(
        channels=[channel, mastodon_channel],
        agents=agents,
        teams=teams,
        days=DAYS,
        messages_per_day=max(1, MESSAGES // DAYS),
        seed=1,
    )
    elapsed = time.perf_counter() - started
    report(
        f"history generated: {result.messages:,} messages ({result.inbound_messages:,} in, "
        f"{result.replies:,} out), {result.conversations:,} conversations, "
        f"{result.care_cycles:,} care cycles over {DAYS} days",
        f"{elapsed:.1f} s ({result.messages / elapsed:,.0f} messages/s)",
    )
    assert Message.objects.count() == result.messages

    refresh = _metrics_refresh_to_completion()
    if refresh is None:
        report("metrics refresh", "not measured: services.metrics_refresh is still a stub")
        return
    started = time.perf_counter()
    handled = refresh()
    elapsed = time.perf_counter() - started
    report(
        f"metrics refresh of {handled:,} conversations ({CareCycle.objects.count():,} cycles)",
        f"{elapsed:.1f} s ({handled / elapsed:,.0f} conversations/s)",
    )
    assert handled >= Conversation.objects.count()
    with connection.cursor() as cursor:
        # Fresh rollups have no statistics; a live database is analysed by autovacuum.
        cursor.execute("ANALYZE")

    try:
        dashboard_url = reverse("inbox:dashboard")
        export_url = reverse(
            "inbox:metrics_export", kwargs={"slug": "agents", "file_format": "csv"}
        )
    except NoReverseMatch:
        report("dashboard", "not measured: no dashboard URL yet")
        return
    # An error page is reported, not raised: the figures before it took long to make.
    client = Client(raise_request_exception=False)
    client.force_login(team_lead.user)
    for period in ("7d", "90d"):
        report(
            f"dashboard, last {period}, team lead (whole request, test client)",
            _page_figures(client, dashboard_url, {"range": period}),
        )
    report(
        "dashboard, last 90d grouped by agent",
        _page_figures(client, dashboard_url, {"range": "90d", "group": "agent"}),
    )
    report(
        "CSV export of the agents table, last 90d",
        _page_figures(client, export_url, {"range": "90d"}),
    )
