"""The dashboard page: who may see it, its controls in the URL, and its query count."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from inbox.metrics.charts import format_value
from inbox.metrics.export import metrics_tables_load
from inbox.metrics.tables import metrics_query_from_params
from inbox.models import CycleFact, MetricsAgentHour, MetricsHour, MetricsTagHour, WaitFact
from inbox.services import conversation_tag, team_create
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

URL = reverse("inbox:dashboard")


@pytest.fixture
def figures(channel, mastodon_channel, agent, team_lead):
    """A little of everything the page reads, in two channels, a team and a tag."""
    team = team_create(actor=team_lead.user, name="Afval")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    for index, source in enumerate([channel, mastodon_channel]):
        conversation = citizen_writes(source, username=f"burger{index}")
        conversation_tag(conversation_id=conversation.id, actor=team_lead.user, name="storing")
        MetricsHour.objects.create(
            hour=hour,
            channel=source,
            team=team,
            messages_in=5,
            messages_answered=4,
            replies_sent=3,
            cycles_started=2,
            cycles_resolved=1,
            waits_started=2,
            waits_ended=1,
        )
        MetricsAgentHour.objects.create(hour=hour, agent=agent.user, channel=source, replies_sent=3)
        MetricsTagHour.objects.create(
            hour=hour, tag_id=conversation.tags.get().id, channel=source, messages_in=5
        )
        CycleFact.objects.create(
            conversation=conversation,
            number=1,
            channel=source,
            team=team,
            priority=2,
            is_private=False,
            started_at=hour,
            first_response_at=hour + timedelta(minutes=5),
            first_responder=agent.user,
            first_response_calendar_seconds=7200,
            first_response_working_seconds=7200,
        )
        WaitFact.objects.create(
            conversation=conversation,
            cycle_number=1,
            channel=source,
            team=team,
            priority=2,
            is_private=False,
            is_first_in_cycle=True,
            started_at=hour,
            ended_at=hour + timedelta(minutes=5),
            outcome="answered",
            responder=agent.user,
            calendar_seconds=7200,
            working_seconds=7200,
            handling_working_seconds=60,
        )
    return team


def test_a_team_lead_sees_the_figures_charts_and_tables(logged_in, team_lead, figures):
    response = logged_in(team_lead).get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('role="img"') == 5
    assert html.count("<details>") == 6  # five charts and the key figures
    assert 'id="dashboard-now"' in html and 'hx-trigger="every 30s"' in html
    assert 'aria-live="polite"' in html
    assert reverse("inbox:metrics_export", args=["volume", "csv"]) + "?range=7d" in html
    assert reverse("inbox:metrics_export", args=["norms", "xlsx"]) in html
    # The first response breached the one-hour norm twice; both are listed with their link.
    breached = CycleFact.objects.order_by("id").first()
    assert breached is not None
    assert reverse("inbox:conversation", args=[breached.conversation_id]) in html
    assert "<script>" not in html and ' style="' not in html


def test_an_agent_may_not_open_the_dashboard(logged_in, agent):
    assert logged_in(agent).get(URL).status_code == 403


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range": "yesterday"}, "Unknown period."),
        ({"group": "weather"}, "Unknown grouping."),
        ({"range": "custom", "from": "2026-02-01", "to": "2026-01-01"}, "The end date is before"),
        ({"range": "custom", "from": "soon"}, "YYYY-MM-DD"),
        ({"channel": "twitter"}, "numeric ids"),
    ],
)
def test_a_bad_query_is_refused_with_a_clear_message(logged_in, team_lead, params, message):
    client = logged_in(team_lead)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    # The form stays, so the team lead can correct it.
    assert 'id="dashboard-range"' in response.content.decode()


@pytest.mark.parametrize("group", ["none", "channel", "team", "agent", "tag"])
def test_the_dashboard_reads_a_bounded_number_of_queries_for_each_grouping(
    logged_in, team_lead, figures, group, django_assert_max_num_queries
):
    client = logged_in(team_lead)
    # 38-41 today: session and header, then a fixed set of aggregates per table (the norms
    # are read once per page); what matters is that no count grows with the data.
    with django_assert_max_num_queries(42):
        response = client.get(URL, {"range": "30d", "group": group})
    assert response.status_code == 200
    assert "Afval" in response.content.decode() or group != "team"


def test_filters_and_custom_periods_stay_in_the_url(logged_in, team_lead, figures, channel):
    response = logged_in(team_lead).get(
        URL, {"range": "custom", "from": "2026-01-05", "to": "2026-01-11", "channel": channel.id}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f"from=2026-01-05&amp;to=2026-01-11&amp;channel={channel.id}" in html
    assert f'<option value="{channel.id}" selected>' in html


def test_the_now_strip_refreshes_alone(logged_in, team_lead, figures):
    response = logged_in(team_lead).get(URL, {"part": "now"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="now-heading"' in html
    assert "<html" not in html and 'role="img"' not in html


def test_it_says_when_the_figures_are_being_updated(logged_in, team_lead, monkeypatch):
    client = logged_in(team_lead)
    assert "dashboard-pending" not in client.get(URL).content.decode()
    monkeypatch.setattr("inbox.views.dashboard.metrics_pending_changes", lambda **_: 1)
    assert "dashboard-pending" in client.get(URL).content.decode()


def test_it_links_to_the_service_norms_only_when_that_page_exists(
    logged_in, team_lead, monkeypatch
):
    client = logged_in(team_lead)
    monkeypatch.setattr("inbox.views.dashboard._optional_url", lambda name: None)
    html = client.get(URL).content.decode()
    assert "Change the service norms" not in html and "Servicenormen aanpassen" not in html


def test_the_charts_escape_every_label_and_carry_their_title():
    from inbox.metrics import charts

    svg = charts.bar_chart(
        "chart-x",
        title="Tijden <b>",
        description='"quoted" & more',
        categories=["<script>alert(1)</script>", "b"],
        series=[("één", [1, 2]), ("twee", [3, None])],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert '<title id="chart-x-title">Tijden &lt;b&gt;</title>' in svg
    assert "&quot;quoted&quot; &amp; more" in svg
    assert 'role="img"' in svg and "style=" not in svg
    line = charts.line_chart(
        "chart-y", title="t", description="d", labels=["a", "b", "c"],
        series=[("x", [1, None, 3])],
    )  # fmt: skip
    assert line.count("<circle") == 2 + 1  # two points and the legend's marker


def test_durations_on_the_page_round_to_the_nearest_minute_like_the_export():
    with translation.override("en"):
        assert format_value(838, "seconds") == "14 min"
        assert format_value(809, "seconds") == "13 min"
        assert format_value(45, "seconds") == "45 s"
        assert format_value(3 * 3600 + 29 * 60 + 40, "seconds") == "3 h 30 min"


def _anchor(heading: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    return "#" + re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_table_links_to_a_section_of_the_metrics_definitions(db):
    """The XLSX's About sheet and the API point at docs/metrics.md#<anchor>: it must exist."""
    headings = (Path(settings.BASE_DIR) / "docs" / "metrics.md").read_text(encoding="utf-8")
    anchors = {_anchor(heading) for heading in re.findall(r"^#+ (.*)$", headings, re.MULTILINE)}
    query = metrics_query_from_params({"range": "7d"})

    for slug, build in metrics_tables_load().items():
        with translation.override("en"):
            anchor = build(query).definition_anchor
        assert anchor in anchors, f"table {slug!r} points at {anchor!r}"
