"""The dashboard's reads (inbox/selectors/metrics.py) against hand-computed figures.

Facts and rollups are created directly here, so each figure is pinned by numbers worked out
by hand; test_the_figures_follow_the_real_refresh checks the path through services.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from channels.base import SentReply
from inbox.metrics.tables import TABLES, metrics_query_from_params
from inbox.metrics.working_time import AMSTERDAM
from inbox.models import (
    Conversation,
    CycleFact,
    MetricsAgentHour,
    MetricsHour,
    ServiceNorm,
    WaitFact,
)
from inbox.selectors.metrics import NO_TEAM, WITHOUT_TAG, backlog_at, dashboard_now
from inbox.services import (
    conversation_tag,
    reply_claim_for_sending,
    reply_create,
    reply_mark_sent,
    team_create,
)
from inbox.views.dashboard import _change
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

# Wednesday 18 November 2026, 12:00 in Amsterdam (CET, UTC+1).
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)


def week(**params: str):
    """The last 7 days before NOW: Thursday 12 November 00:00 to Thursday 19 November 00:00."""
    return metrics_query_from_params({"range": "7d", **params}, now=NOW)


def cycle(conversation: Conversation, number: int, **fields) -> CycleFact:
    defaults = {
        "channel_id": conversation.channel_id,
        "team_id": conversation.team_id,
        "priority": 2,
        "is_private": False,
        "started_at": NOW - timedelta(days=1),
    }
    return CycleFact.objects.create(
        conversation=conversation, number=number, **{**defaults, **fields}
    )


def wait(conversation: Conversation, **fields) -> WaitFact:
    defaults = {
        "channel_id": conversation.channel_id,
        "team_id": conversation.team_id,
        "cycle_number": 1,
        "priority": 2,
        "is_private": False,
        "is_first_in_cycle": True,
        "started_at": NOW - timedelta(days=1),
        "outcome": WaitFact.Outcome.ANSWERED,
    }
    return WaitFact.objects.create(conversation=conversation, **{**defaults, **fields})


def answered_cycles(conversation, minutes: list[int], *, at: datetime, **fields) -> None:
    for number, value in enumerate(minutes, start=1):
        cycle(
            conversation,
            number,
            first_response_at=at,
            first_response_working_seconds=value * 60,
            first_response_calendar_seconds=value * 60 * 2,
            **fields,
        )


def test_first_response_percentiles_count_the_cycles_answered_in_the_period(channel):
    conversation = citizen_writes(channel)
    answered_cycles(conversation, list(range(1, 11)), at=NOW - timedelta(days=1))
    # Answered before the period: not counted, however slow.
    cycle(
        conversation,
        11,
        first_response_at=NOW - timedelta(days=30),
        first_response_working_seconds=999_999,
        first_response_calendar_seconds=999_999,
    )

    current, previous = TABLES["summary"](week()).rows

    # Ten values 1..10 minutes: median 5.5 min, p90 at position 8.1 = 9.1 min.
    assert current["first_response_median_working"] == pytest.approx(5.5 * 60)
    assert current["first_response_p90_working"] == pytest.approx(9.1 * 60)
    assert current["first_response_median_calendar"] == pytest.approx(11 * 60)
    assert current["first_response_p90_calendar"] == pytest.approx(18.2 * 60)
    assert previous["first_response_median_working"] is None


def test_reply_rate_and_counts_come_from_the_hourly_rollups_of_each_period(channel):
    hour = NOW.replace(minute=0) - timedelta(hours=3)
    MetricsHour.objects.create(
        hour=hour,
        channel=channel,
        messages_in=10,
        messages_answered=8,
        replies_sent=7,
        cycles_started=4,
        cycles_resolved=3,
    )
    MetricsHour.objects.create(
        hour=hour - timedelta(days=7),
        channel=channel,
        messages_in=5,
        messages_answered=5,
        replies_sent=9,
        cycles_started=2,
        cycles_resolved=2,
    )

    current, previous = TABLES["summary"](week()).rows

    assert (current["messages_in"], current["replies_sent"]) == (10, 7)
    assert (current["cycles_started"], current["cycles_resolved"]) == (4, 3)
    assert current["reply_rate"] == pytest.approx(0.8)
    assert previous["reply_rate"] == pytest.approx(1.0)
    assert previous["messages_in"] == 5


def test_a_change_is_told_in_words_with_its_direction_and_judgement():
    slower = _change("first_response_median_working", "seconds", 600, 300)
    assert (slower["arrow"], slower["judgement"]) == ("↑", "worse")
    assert "5 min" in slower["text"]
    fewer_answered = _change("reply_rate", "percent", 0.8, 1.0)
    assert (fewer_answered["arrow"], fewer_answered["judgement"]) == ("↓", "worse")
    assert "20" in fewer_answered["text"]
    more_traffic = _change("messages_in", "int", 12, 10)
    assert more_traffic["judgement"] == "neutral"
    assert _change("messages_in", "int", 10, 10)["judgement"] == "same"
    assert _change("reply_rate", "percent", None, 0.5)["judgement"] == "none"


def test_the_backlog_series_starts_from_the_waits_running_at_the_period_start(channel):
    query = metrics_query_from_params({"range": "today"}, now=NOW)  # 18 Nov 00:00 Amsterdam
    conversation = citizen_writes(channel)
    before = query.start - timedelta(hours=2)
    wait(conversation, started_at=before, outcome=WaitFact.Outcome.WAITING)
    wait(conversation, started_at=before, ended_at=query.start + timedelta(minutes=5))
    # Ended before the period started: not in the backlog.
    wait(conversation, started_at=before, ended_at=query.start - timedelta(minutes=1))
    MetricsHour.objects.create(hour=query.start, channel=channel, waits_started=3, waits_ended=1)
    MetricsHour.objects.create(
        hour=query.start + timedelta(hours=2), channel=channel, waits_started=0, waits_ended=2
    )

    rows = TABLES["backlog"](query).rows

    assert backlog_at(query, query.start) == 2
    # Per hour up to now (12:00 Amsterdam): 2 + 3 - 1 = 4 after the first hour, 2 after the
    # third, then flat.
    assert [row["waiting"] for row in rows[:4]] == [4, 4, 2, 2]
    assert len(rows) == 12
    assert rows[-1]["moment"] == NOW


def test_the_backlog_series_of_a_week_is_per_day(channel):
    query = week()
    MetricsHour.objects.create(
        hour=query.start + timedelta(hours=30), channel=channel, waits_started=5, waits_ended=1
    )
    rows = TABLES["backlog"](query).rows
    assert [row["waiting"] for row in rows] == [0, 4, 4, 4, 4, 4, 4]


def test_the_heatmap_counts_in_amsterdam_time_across_the_change_to_summer_time(channel):
    # Sunday 29 March 2026 the clocks went from 02:00 CET to 03:00 CEST.
    query = metrics_query_from_params(
        {"range": "custom", "from": "2026-03-23", "to": "2026-03-31"}, now=NOW
    )
    MetricsHour.objects.create(
        hour=datetime(2026, 3, 29, 0, tzinfo=UTC), channel=channel, messages_in=3
    )  # 01:00 CET
    MetricsHour.objects.create(
        hour=datetime(2026, 3, 29, 1, tzinfo=UTC), channel=channel, messages_in=4
    )  # 03:00 CEST
    MetricsHour.objects.create(
        hour=datetime(2026, 3, 30, 6, tzinfo=UTC), channel=channel, messages_in=5
    )  # Monday 08:00 CEST
    MetricsHour.objects.create(
        hour=datetime(2026, 3, 24, 7, tzinfo=UTC), channel=channel, messages_in=6
    )  # Tuesday 08:00 CET

    rows = TABLES["heatmap"](query).rows

    monday, tuesday, sunday = rows[0], rows[1], rows[6]
    assert (sunday["h01"], sunday["h02"], sunday["h03"]) == (3, 0, 4)
    assert monday["h08"] == 5
    assert tuesday["h08"] == 6
    assert sum(value for row in rows for key, value in row.items() if key != "weekday") == 18


def test_norms_are_met_or_breached_by_the_first_matching_norm(channel):
    # Seeded norms: private first response within 510 working minutes (position 10), any first
    # response within 60 working minutes (20), next response within 60 working minutes (30).
    conversation = citizen_writes(channel)
    at = NOW - timedelta(days=1)
    answered_cycles(conversation, [30], at=at)
    cycle(
        conversation,
        2,
        first_response_at=at - timedelta(hours=1),
        first_response_working_seconds=90 * 60,
        first_response_calendar_seconds=90 * 60,
    )
    cycle(
        conversation,
        3,
        first_response_at=at,
        is_private=True,
        first_response_working_seconds=120 * 60,
        first_response_calendar_seconds=999_999,
    )
    wait(
        conversation,
        is_first_in_cycle=False,
        ended_at=at,
        working_seconds=61 * 60,
        calendar_seconds=61 * 60,
    )

    norms = {row["norm"]: row for row in TABLES["norms"](week()).rows}
    breaches = TABLES["breaches"](week()).rows
    summary = TABLES["summary"](week()).rows[0]

    private = norms["Privébericht: eerste reactie binnen 1 werkdag"]
    assert (private["measured"], private["met"], private["breached"]) == (1, 1, 0)
    first = norms["Eerste reactie binnen 1 werkuur"]
    assert (first["measured"], first["met"], first["breached"]) == (2, 1, 1)
    assert first["met_share"] == pytest.approx(0.5)
    following = norms["Vervolgreactie binnen 1 werkuur"]
    assert (following["measured"], following["breached"]) == (1, 1)
    assert summary["first_response_within_norm"] == pytest.approx(2 / 3)
    assert summary["next_response_within_norm"] == 0
    assert [row["norm"] for row in breaches] == [
        "Vervolgreactie binnen 1 werkuur",
        "Eerste reactie binnen 1 werkuur",
    ]
    assert breaches[1]["measured_seconds"] == 90 * 60
    assert breaches[1]["conversation"] == conversation.id


def test_without_active_norms_nothing_is_measured(channel):
    ServiceNorm.objects.update(is_active=False)
    answered_cycles(citizen_writes(channel), [30], at=NOW - timedelta(days=1))

    summary = TABLES["summary"](week()).rows[0]

    assert summary["first_response_within_norm"] is None
    assert summary["first_response_median_working"] == pytest.approx(30 * 60)
    assert TABLES["norms"](week()).rows == []
    assert TABLES["breaches"](week()).rows == []


def test_the_now_strip_flags_waits_that_breach_their_norm_within_30_minutes(channel, agent):
    # Monday 23 November 2026, 10:00 Amsterdam: open (default hours 08:30-17:00).
    now = datetime(2026, 11, 23, 10, 0, tzinfo=AMSTERDAM)
    breached = citizen_writes(channel, username="a", sent_at=now - timedelta(minutes=75))
    imminent = citizen_writes(channel, username="b", sent_at=now - timedelta(minutes=45))
    later = citizen_writes(channel, username="c", sent_at=now - timedelta(minutes=10))
    # Waiting since before opening: the working hour starts at 08:30, so due at 09:30.
    early = citizen_writes(channel, username="d", sent_at=now - timedelta(hours=14))
    Conversation.objects.filter(id=later.id).update(status=Conversation.Status.PENDING)

    with time_machine.travel(now, tick=False):
        strip = dashboard_now(metrics_query_from_params({}, now=now))

    assert strip.waiting == 3
    assert strip.oldest is not None and strip.oldest.conversation_id == early.id
    assert strip.agents_available == 1
    assert [item.conversation_id for item in strip.breached] == [early.id, breached.id]
    assert strip.breached[0].deadline == datetime(2026, 11, 23, 9, 30, tzinfo=AMSTERDAM)
    assert [item.conversation_id for item in strip.imminent] == [imminent.id]
    assert strip.imminent[0].url == f"/conversations/{imminent.id}/"


def test_response_times_are_grouped_by_channel_with_the_other_channel_apart(
    channel, mastodon_channel
):
    at = NOW - timedelta(days=1)
    answered_cycles(citizen_writes(channel), [10, 20, 30], at=at)
    answered_cycles(citizen_writes(mastodon_channel), [100], at=at)

    rows = {row["group"]: row for row in TABLES["response-times"](week(group="channel")).rows}
    filtered = TABLES["response-times"](week(channel=str(mastodon_channel.id))).rows

    assert rows[channel.name]["first_response_median_working"] == pytest.approx(20 * 60)
    assert rows[channel.name]["first_responses"] == 3
    assert rows[mastodon_channel.name]["first_response_median_working"] == pytest.approx(6000)
    assert [row["first_responses"] for row in filtered] == [1]


def test_response_times_are_grouped_by_team_and_by_the_conversations_tag(channel, team_lead):
    team = team_create(actor=team_lead.user, name="Afval")
    at = NOW - timedelta(days=1)
    tagged = citizen_writes(channel, username="a")
    Conversation.objects.filter(id=tagged.id).update(team=team)
    tagged.refresh_from_db()
    conversation_tag(conversation_id=tagged.id, actor=team_lead.user, name="storing")
    answered_cycles(tagged, [10, 30], at=at)
    answered_cycles(citizen_writes(channel, username="b"), [50], at=at)

    by_team = {row["group"]: row for row in TABLES["response-times"](week(group="team")).rows}
    by_tag = {row["group"]: row for row in TABLES["response-times"](week(group="tag")).rows}

    assert by_team["Afval"]["first_response_median_working"] == pytest.approx(20 * 60)
    assert by_team[str(NO_TEAM)]["first_responses"] == 1
    assert by_tag["storing"]["first_responses"] == 2
    assert by_tag[str(WITHOUT_TAG)]["first_responses"] == 1


def test_per_agent_the_handling_time_median_and_replies(channel, agent, second_agent):
    conversation = citizen_writes(channel)
    at = NOW - timedelta(days=1)
    for seconds in (60, 120, 600):
        wait(
            conversation,
            ended_at=at,
            responder=agent.user,
            working_seconds=seconds,
            calendar_seconds=seconds,
            handling_working_seconds=seconds // 2,
            handling_calendar_seconds=seconds,
        )
    wait(
        conversation,
        ended_at=at,
        responder=second_agent.user,
        working_seconds=5,
        calendar_seconds=5,
        handling_working_seconds=5,
        handling_calendar_seconds=5,
    )
    MetricsAgentHour.objects.create(
        hour=at.replace(minute=0),
        agent=agent.user,
        channel=channel,
        replies_sent=3,
        cycles_resolved=2,
    )

    rows = {row["agent"]: row for row in TABLES["agents"](week()).rows}
    grouped = {row["group"]: row for row in TABLES["response-times"](week(group="agent")).rows}

    anouk = rows["Anouk Jansen"]
    assert (anouk["replies_sent"], anouk["cycles_resolved"], anouk["responses"]) == (3, 2, 3)
    assert anouk["handling_median_working"] == pytest.approx(60)
    assert anouk["handling_median_calendar"] == pytest.approx(120)
    assert rows["Bram Bakker"]["replies_sent"] == 0
    assert grouped["Anouk Jansen"]["handling_median_working"] == pytest.approx(60)


def test_the_distribution_puts_each_first_response_in_its_bucket(channel):
    answered_cycles(
        citizen_writes(channel), [5, 14, 15, 59, 60, 300, 2000, 5000], at=NOW - timedelta(days=1)
    )
    rows = TABLES["response-times-distribution"](week()).rows
    # Working minutes 5, 14 | 15, 59 | 60 | 300 (5 h) | | 2000 (33 h) | 5000 (83 h);
    # calendar time is twice as long.
    assert [row["working"] for row in rows] == [2, 2, 1, 1, 0, 1, 1]
    assert [row["calendar"] for row in rows] == [1, 2, 2, 0, 1, 1, 1]


def test_the_trend_has_every_day_with_its_counts_and_median(channel):
    query = week()
    day = query.start + timedelta(days=2, hours=10)
    MetricsHour.objects.create(hour=day, channel=channel, messages_in=4, replies_sent=2)
    answered_cycles(citizen_writes(channel), [10, 20], at=day)

    rows = TABLES["trend"](query).rows

    assert len(rows) == 7
    assert rows[2]["day"] == day.astimezone(AMSTERDAM).date()
    assert (rows[2]["messages_in"], rows[2]["replies_sent"]) == (4, 2)
    assert rows[2]["first_response_median_working"] == pytest.approx(15 * 60)
    assert rows[0]["messages_in"] == 0


def test_the_figures_follow_the_real_refresh(channel, agent):
    from inbox.services.metrics import metrics_refresh

    with time_machine.travel(NOW - timedelta(hours=3), tick=False):
        conversation = citizen_writes(channel)
    with time_machine.travel(NOW - timedelta(hours=3) + timedelta(minutes=20), tick=False):
        message = reply_create(
            conversation_id=conversation.id,
            actor=agent.user,
            text="Antwoord",
            idempotency_key=uuid.uuid4(),
        )
        reply_claim_for_sending(message_id=message.id)
        reply_mark_sent(message_id=message.id, sent=SentReply(f"sent-{message.id}", {}))
    with time_machine.travel(NOW, tick=False):
        metrics_refresh()
        current = TABLES["summary"](week()).rows[0]

    assert current["messages_in"] == 1
    assert current["replies_sent"] == 1
    assert current["reply_rate"] == 1
    # Wednesday 09:00 to 09:20 Amsterdam: within opening hours.
    assert current["first_response_median_working"] == pytest.approx(20 * 60)
    assert timezone.now() > NOW  # time travel ended
