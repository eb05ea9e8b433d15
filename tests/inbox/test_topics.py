"""Topic rules, the topics of citizen messages, the topic and term rollups and the spike
alert (inbox/services/topics.py, inbox/selectors/topics.py, inbox/metrics/topics.py)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from channels.models import Channel
from inbox import services
from inbox.metrics.tables import MetricsQuery, metrics_query_from_params
from inbox.metrics.terms import TermCounter, own_words
from inbox.metrics.topics import (
    SPIKE_BASELINE_DAYS,
    is_spike,
    spike_windows,
    topic_rules,
    topics_of,
)
from inbox.metrics.working_time import AMSTERDAM
from inbox.models import (
    AuditEvent,
    Message,
    MessageTopic,
    MetricsDirtyConversation,
    MetricsTermDay,
    MetricsTopicHour,
    Topic,
)
from inbox.selectors.topics import term_rows, topic_rows, topic_spikes, topics_overview
from inbox.services.topics import (
    term_days_rebuild,
    topic_rollups_rebuild,
    topics_refresh_for_conversations,
)

_ids = itertools.count(5_000_000)


def citizens_write(channel: Channel, messages: list[tuple[str, str, datetime]]) -> list[int]:
    """(text, username, sent_at) messages arrive in one ingest batch, each in its own
    thread; returns their conversation ids."""
    platform_messages = []
    for text, username, sent_at in messages:
        external_id = str(next(_ids))
        platform_messages.append(
            PlatformMessage(
                external_id=external_id,
                thread_key=f"{external_id}:{username}",
                author=PlatformAuthor(
                    external_id=f"user-{username}", username=username, display_name=username
                ),
                text=text,
                sent_at=sent_at,
            )
        )
    services.messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(messages=platform_messages, cursor=channel.cursor),
    )
    return list(
        Message.objects.filter(external_id__in=[m.external_id for m in platform_messages])
        .values_list("conversation_id", flat=True)
        .distinct()
    )


def refresh_all() -> None:
    """What the metrics refresh does for every conversation and hour."""
    conversation_ids = list(Message.objects.values_list("conversation_id", flat=True).distinct())
    topics_refresh_for_conversations(conversation_ids)
    topic_rollups_rebuild(list(Message.objects.values_list("sent_at", flat=True)))


def query_for(start: datetime, end: datetime, now: datetime) -> MetricsQuery:
    return MetricsQuery(start=start, end=end, range_key="custom", now=now)


# --- matching ------------------------------------------------------------------------------


def test_topics_match_like_routing_rules_whole_words_case_and_accents_ignored() -> None:
    rules = topic_rules([(1, "afval\ngrof vuil"), (2, "#storing"), (3, "cafe"), (4, " , ")])
    assert [rule.topic_id for rule in rules] == [1, 2, 3]  # no keywords: matches nothing
    assert topics_of("AFVAL! op straat", rules) == [1]
    assert topics_of("#afval", rules) == [1]
    assert topics_of("de afvalbak", rules) == []
    assert topics_of("Grof   vuil ligt er", rules) == [1]
    assert topics_of("storing bij de brug", rules) == []
    assert topics_of("#Storing bij de brug", rules) == [2]
    assert topics_of("Het Café is dicht, afval", rules) == [1, 3]


# --- services ------------------------------------------------------------------------------


def test_creating_a_topic_audits_it_and_marks_the_last_90_days_conversations(
    channel: Channel, team_lead
) -> None:
    now = timezone.now()
    recent = citizens_write(channel, [("afval", "anna", now - timedelta(days=89))])
    citizens_write(channel, [("afval", "bert", now - timedelta(days=91))])
    MetricsDirtyConversation.objects.all().delete()

    topic = services.topic_create(actor=team_lead.user, name=" Afval ", keywords="afval, #vuil")

    assert topic.name == "Afval"
    assert topic.keywords == "afval\n#vuil"
    event = AuditEvent.objects.get(action="topic.created")
    assert event.actor == team_lead.user
    assert event.data["topic_id"] == topic.pk
    assert (
        sorted(MetricsDirtyConversation.objects.values_list("conversation_id", flat=True)) == recent
    )


def test_changing_keywords_marks_but_a_new_name_does_not(channel: Channel, team_lead) -> None:
    citizens_write(channel, [("afval", "anna", timezone.now())])
    topic = services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    MetricsDirtyConversation.objects.all().delete()

    services.topic_update(
        actor=team_lead.user, topic_id=topic.pk, name="Vuil", keywords="afval", is_active=True
    )
    assert not MetricsDirtyConversation.objects.exists()

    services.topic_update(
        actor=team_lead.user, topic_id=topic.pk, name="Vuil", keywords="vuil", is_active=True
    )
    assert MetricsDirtyConversation.objects.count() == 1
    event = AuditEvent.objects.filter(action="topic.updated").latest("id")
    assert event.data["previous"] == {"keywords": "afval"}


def test_switching_a_topic_off_marks_and_deleting_audits(channel: Channel, team_lead) -> None:
    citizens_write(channel, [("afval", "anna", timezone.now())])
    topic = services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    MetricsDirtyConversation.objects.all().delete()
    services.topic_update(
        actor=team_lead.user, topic_id=topic.pk, name="Afval", keywords="afval", is_active=False
    )
    assert MetricsDirtyConversation.objects.count() == 1

    services.topic_delete(actor=team_lead.user, topic_id=topic.pk)
    services.topic_delete(actor=team_lead.user, topic_id=topic.pk)  # a double click

    assert not Topic.objects.exists()
    assert AuditEvent.objects.filter(action="topic.deleted").count() == 1


def test_a_topic_needs_a_name_keywords_and_a_unique_name(team_lead) -> None:
    services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    with pytest.raises(services.ServiceError):
        services.topic_create(actor=team_lead.user, name="", keywords="afval")
    with pytest.raises(services.ServiceError):
        services.topic_create(actor=team_lead.user, name="Leeg", keywords=" , #")
    with pytest.raises(services.ServiceError):
        services.topic_create(actor=team_lead.user, name="AFVAL", keywords="vuil")


def test_agents_cannot_edit_topics(agent) -> None:
    with pytest.raises(PermissionDenied):
        services.topic_create(actor=agent.user, name="Afval", keywords="afval")


# --- hooks ---------------------------------------------------------------------------------


def test_the_refresh_rebuilds_message_topics_of_citizen_messages(
    channel: Channel, team_lead
) -> None:
    afval = services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    parkeren = services.topic_create(actor=team_lead.user, name="Parkeren", keywords="#parkeren")
    now = timezone.now()
    conversation_ids = citizens_write(
        channel,
        [
            ("Afval en #parkeren", "anna", now),
            ("parkeren zonder hashtag", "bert", now),
            ("niets", "carla", now),
        ],
    )
    topics_refresh_for_conversations(conversation_ids)
    assert sorted(MessageTopic.objects.values_list("topic_id", flat=True)) == sorted(
        [afval.pk, parkeren.pk]
    )

    services.topic_update(
        actor=team_lead.user,
        topic_id=parkeren.pk,
        name="Parkeren",
        keywords="parkeren",
        is_active=True,
    )
    services.topic_update(
        actor=team_lead.user, topic_id=afval.pk, name="Afval", keywords="afval", is_active=False
    )
    topics_refresh_for_conversations(conversation_ids)

    rows = MessageTopic.objects.values_list("topic_id", "message__text")
    assert sorted(rows) == [
        (parkeren.pk, "Afval en #parkeren"),
        (parkeren.pk, "parkeren zonder hashtag"),
    ]


def test_the_message_topic_rebuild_takes_the_same_queries_for_1_or_20_conversations(
    channel: Channel, team_lead, django_assert_num_queries
) -> None:
    services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    now = timezone.now()
    one = citizens_write(channel, [("afval", "anna", now)])
    many = citizens_write(channel, [(f"afval {n}", f"burger{n}", now) for n in range(20)])
    with django_assert_num_queries(4):
        topics_refresh_for_conversations(one)
    with django_assert_num_queries(4):
        topics_refresh_for_conversations(many)
    assert MessageTopic.objects.count() == 21


def test_rollups_equal_a_direct_count_of_the_messages(channel: Channel, team_lead) -> None:
    services.topic_create(actor=team_lead.user, name="Afval", keywords="afval, container")
    services.topic_create(actor=team_lead.user, name="Parkeren", keywords="parkeren")
    base = datetime(2026, 3, 10, 22, 15, tzinfo=UTC)  # 23:15 in Amsterdam
    texts = [
        "Container niet geleegd #afval",
        "Parkeren bij de container",
        "Lantaarnpaal kapot",
        "afval naast de container",
        "Boete parkeren #parkeren",
    ]
    messages = [
        (texts[n % len(texts)], f"burger{n % 7}", base + timedelta(minutes=25 * n))
        for n in range(30)
    ]
    citizens_write(channel, messages)
    refresh_all()

    rules = topic_rules(Topic.objects.values_list("id", "keywords"))
    expected_hours: Counter[tuple[datetime, int]] = Counter()
    for message in Message.objects.filter(direction="inbound"):
        hour = message.sent_at.replace(minute=0, second=0, microsecond=0)
        for topic_id in topics_of(message.text, rules):
            expected_hours[(hour, topic_id)] += 1
    assert {
        (row.hour, row.topic_id): row.messages_in for row in MetricsTopicHour.objects.all()
    } == dict(expected_hours)

    counter = TermCounter(own_words(["gemeentedemodorp"], "Gemeente Demodorp"))
    expected_days: dict[tuple[date, str], tuple[int, int]] = {}
    by_day: dict[date, list[tuple[str, int | None]]] = {}
    for message in Message.objects.filter(direction="inbound"):
        day = message.sent_at.astimezone(AMSTERDAM).date()
        by_day.setdefault(day, []).append((message.text, message.author_contact_id))
    for day, day_messages in by_day.items():
        for term, count in counter.count(day_messages).items():
            expected_days[(day, term)] = (count.messages, len(count.authors))
    assert {
        (row.day, row.term): (row.messages, row.citizens) for row in MetricsTermDay.objects.all()
    } == expected_days
    # 23:00 UTC on the 10th is midnight in Amsterdam (UTC+1 in March): two local days, and
    # the messages of 22:15 and 22:40 UTC are on the 10th.
    assert {row.day for row in MetricsTermDay.objects.all()} == {
        date(2026, 3, 10),
        date(2026, 3, 11),
    }
    assert MetricsTermDay.objects.get(day=date(2026, 3, 10), term="geleegd").messages == 1


def test_a_day_is_recounted_whole_when_one_hour_of_it_changes(channel: Channel) -> None:
    morning = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    citizens_write(channel, [("lantaarnpaal kapot", "anna", morning)])
    topic_rollups_rebuild([morning])
    evening = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
    citizens_write(channel, [("lantaarnpaal kapot", "bert", evening)])

    topic_rollups_rebuild([evening])

    row = MetricsTermDay.objects.get(term="lantaarnpaal")
    assert (row.day, row.messages, row.citizens) == (date(2026, 3, 10), 2, 2)


def test_an_unchanged_day_is_not_recounted_but_a_changed_or_emptied_one_is(
    channel: Channel, django_capture_on_commit_callbacks, django_assert_num_queries
) -> None:
    moment = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    citizens_write(channel, [("lantaarnpaal kapot", "anna", moment)])
    with django_capture_on_commit_callbacks(execute=True):
        term_days_rebuild([date(2026, 3, 10)])
    # Unchanged: the fingerprint queries only (channels, messages, stored rows).
    with django_assert_num_queries(3):
        term_days_rebuild([date(2026, 3, 10)])

    MetricsTermDay.objects.all().delete()  # e.g. a restored database: recounted
    with django_capture_on_commit_callbacks(execute=True):
        term_days_rebuild([date(2026, 3, 10)])
    assert MetricsTermDay.objects.filter(term="lantaarnpaal").exists()

    citizens_write(channel, [("brug open", "bert", moment)])
    term_days_rebuild([date(2026, 3, 10)])
    assert MetricsTermDay.objects.filter(term="brug").exists()


# --- period figures ------------------------------------------------------------------------


def test_a_term_of_two_citizens_is_not_shown_with_the_default_minimum_of_three(
    channel: Channel,
) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    citizens_write(
        channel,
        [
            ("lantaarnpaal kapot", "anna", now - timedelta(hours=1)),
            ("lantaarnpaal kapot", "anna", now - timedelta(hours=2)),
            ("lantaarnpaal kapot", "bert", now - timedelta(hours=3)),
            ("#storing stroomstoring", "anna", now - timedelta(hours=1)),
            ("#storing stroomstoring", "bert", now - timedelta(hours=1)),
            ("#storing stroomstoring", "carla", now - timedelta(hours=1)),
        ],
    )
    refresh_all()
    query = metrics_query_from_params({"range": "today"}, now=now)

    words, hashtags = term_rows(query)

    assert {row["term"] for row in words} == {"stroomstoring"}
    assert [(row["term"], row["messages"], row["citizens"]) for row in hashtags] == [
        ("#storing", 3, 3)
    ]
    with override_settings(WEBCARE_TERM_MIN_CITIZENS=2):
        words, _hashtags = term_rows(query)
    assert {row["term"] for row in words} == {"stroomstoring", "lantaarnpaal", "kapot"}
    assert next(row for row in words if row["term"] == "lantaarnpaal")["messages"] == 3


def test_terms_and_topics_compare_with_the_previous_period(channel: Channel, team_lead) -> None:
    services.topic_create(actor=team_lead.user, name="Stroom", keywords="stroom")
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    yesterday = now - timedelta(days=1)
    citizens_write(
        channel,
        [(f"stroom weg {n}", f"burger{n}", now - timedelta(hours=1)) for n in range(6)]
        + [(f"stroom weg {n}", f"burger{n}", yesterday) for n in range(4)],
    )
    refresh_all()
    query = metrics_query_from_params({"range": "today"}, now=now)

    topics, _spikes = topic_rows(query)
    words, _hashtags = term_rows(query)

    assert (topics[0]["messages"], topics[0]["previous"], topics[0]["change"]) == (6, 4, 2)
    assert topics[0]["change_percent"] == pytest.approx(0.5)
    stroom = next(row for row in words if row["term"] == "stroom")
    assert (stroom["messages"], stroom["previous"], stroom["change_points"]) == (6, 4, 50)


def test_the_overview_reads_in_four_queries(
    channel: Channel, team_lead, django_assert_num_queries
) -> None:
    for name in ("Afval", "Parkeren", "Stroom"):
        services.topic_create(actor=team_lead.user, name=name, keywords=name)
    citizens_write(channel, [("stroom weg", "anna", timezone.now())])
    refresh_all()
    query = metrics_query_from_params({"range": "30d"})
    with django_assert_num_queries(4):
        overview = topics_overview(query)
    assert [row["topic"] for row in overview["topics"]] == ["Stroom", "Afval", "Parkeren"]
    assert overview["spikes"] == []


# --- spike alert ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recent", "baseline_total", "spikes"),
    [
        (9, 0, False),  # below the minimum of 10
        (10, 0, True),
        (10, 14 * 3, True),  # average 3: 3 x 3 = 9 <= 10
        (14, 14 * 5, False),  # average 5: needs 15
        (15, 14 * 5, True),
    ],
)
def test_a_spike_needs_ten_messages_and_three_times_the_average(
    recent: int, baseline_total: int, spikes: bool
) -> None:
    assert is_spike(recent, baseline_total) is spikes


def test_spike_windows_are_the_same_amsterdam_clock_hours_across_summer_time() -> None:
    now = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)  # 14:00 in Amsterdam, summer time
    windows = spike_windows(now)
    assert len(windows) == SPIKE_BASELINE_DAYS + 1
    assert windows[0] == (datetime(2026, 3, 30, 9, 0, tzinfo=UTC), now)
    # Two days before, on the 28th, Amsterdam was on winter time (UTC+1): 11:00-14:00 local.
    assert windows[2] == (
        datetime(2026, 3, 28, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 28, 13, 0, tzinfo=UTC),
    )


def test_a_topic_spikes_against_its_usual_level_in_the_same_hours(
    channel: Channel, team_lead
) -> None:
    topic = services.topic_create(actor=team_lead.user, name="Brug", keywords="brug")
    now = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    usual = [
        (f"brug open {day}", f"vaste{day}", now - timedelta(days=day, hours=1))
        for day in range(1, 15)
    ]
    # Outside the windows: not part of the baseline.
    usual += [(f"brug {n}", f"ander{n}", now - timedelta(days=2, hours=5)) for n in range(30)]
    recent = [(f"brug dicht {n}", f"burger{n}", now - timedelta(minutes=10 + n)) for n in range(9)]
    citizens_write(channel, usual + recent)
    refresh_all()
    query = metrics_query_from_params({"range": "today"}, now=now)

    with time_machine.travel(now, tick=False):
        assert topic_spikes(query) == []

        citizens_write(channel, [("brug dicht!", "laatste", now - timedelta(minutes=1))])
        refresh_all()
        spikes = topic_spikes(query)

    assert [(spike["topic_id"], spike["messages"]) for spike in spikes] == [(topic.pk, 10)]
    assert spikes[0]["average"] == pytest.approx(1.0)
    topics, _spikes = topic_rows(query)
    assert topics[0]["spike"] == 1


# --- measurement ---------------------------------------------------------------------------
