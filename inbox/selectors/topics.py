"""What citizens write about, for the dashboard, its export and the API (docs/metrics.md,
"Topics", "Frequent terms and hashtags", "Spike alert").

Read from the rollups (MetricsTopicHour, MetricsTermDay) and, for the spike alert, the
MessageTopic facts of a few hours; never from the message table. Only aggregates: a term is
never linked to a message or a citizen, and shown only when enough citizens used it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from inbox.metrics.tables import Column, MetricsQuery, MetricsTable, metrics_table
from inbox.metrics.topics import (
    SPIKE_BASELINE_DAYS,
    SPIKE_FACTOR,
    SPIKE_MIN_MESSAGES,
    SPIKE_WINDOW,
    baseline_average,
    is_spike,
    spike_windows,
)
from inbox.metrics.working_time import AMSTERDAM
from inbox.models import MessageTopic, MetricsTopicHour, Topic

TOP_TERMS = 20
TOP_HASHTAGS = 10


def topics_list() -> list[Topic]:
    """Every topic rule, active first, for the team lead's topics page."""
    return list(Topic.objects.order_by("-is_active", "name"))


def topic_get(topic_id: int) -> Topic:
    return Topic.objects.get(id=topic_id)


def _change(current: int, previous: int) -> tuple[int, float | None]:
    """The change against the previous period, absolute and as a fraction of it (None when
    there was nothing before: no percentage of zero)."""
    return current - previous, (current - previous) / previous if previous else None


def _points(fraction: float | None) -> int | None:
    """A fraction as whole percent points, for display (0.254 → 25)."""
    return None if fraction is None else round(fraction * 100)


def topic_spikes(query: MetricsQuery) -> list[dict[str, Any]]:
    """The active topics that spike at `query.now` (inbox/metrics/topics.py defines it),
    biggest jump first. Counts the MessageTopic facts of the 15 three-hour windows."""
    topics = dict(Topic.objects.filter(is_active=True).values_list("id", "name"))
    return _spikes(query, topics)


def _spikes(query: MetricsQuery, topics: dict[int, str]) -> list[dict[str, Any]]:
    if not topics:
        return []
    windows = spike_windows(query.now)
    recent_start, recent_end = windows[0]
    in_windows = Q()
    for start, end in windows:
        in_windows |= Q(sent_at__gte=start, sent_at__lt=end)
    facts = MessageTopic.objects.filter(in_windows, topic_id__in=list(topics))
    if query.channel_ids:
        facts = facts.filter(channel_id__in=query.channel_ids)
    counts = facts.values("topic_id").annotate(
        recent=Count("id", filter=Q(sent_at__gte=recent_start, sent_at__lt=recent_end)),
        total=Count("id"),
    )
    spikes = []
    for row in counts:
        baseline = row["total"] - row["recent"]
        if is_spike(row["recent"], baseline):
            average = baseline_average(baseline)
            spikes.append(
                {
                    "topic_id": row["topic_id"],
                    "name": topics[row["topic_id"]],
                    "messages": row["recent"],
                    "average": average,
                    "since": recent_start,
                }
            )
    spikes.sort(key=lambda spike: (-spike["messages"] / max(spike["average"], 1), spike["name"]))
    return spikes


def topic_rows(query: MetricsQuery) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per active topic: citizen messages about it in the period and the previous one, the
    change, and whether it spikes now; and the spikes. Three queries."""
    topics = dict(Topic.objects.filter(is_active=True).values_list("id", "name"))
    if not topics:
        return [], []
    previous = query.previous()
    hours = MetricsTopicHour.objects.filter(
        hour__gte=previous.start, hour__lt=query.end, topic_id__in=list(topics)
    )
    if query.channel_ids:
        hours = hours.filter(channel_id__in=query.channel_ids)
    counts: dict[int, tuple[int, int]] = {
        row["topic_id"]: (row["current"] or 0, row["previous"] or 0)
        for row in hours.values("topic_id").annotate(
            current=Sum("messages_in", filter=Q(hour__gte=query.start)),
            previous=Sum("messages_in", filter=Q(hour__lt=query.start)),
        )
    }
    spikes = _spikes(query, topics)
    spiking = {spike["topic_id"] for spike in spikes}
    rows: list[dict[str, Any]] = []
    for topic_id, name in topics.items():
        current, before = counts.get(topic_id, (0, 0))
        change, change_percent = _change(current, before)
        rows.append(
            {
                "topic_id": topic_id,
                "topic": name,
                "messages": current,
                "previous": before,
                "change": change,
                "change_percent": change_percent,
                "change_points": _points(change_percent),
                "spike": int(topic_id in spiking),
            }
        )
    rows.sort(key=lambda row: (-int(row["messages"]), str(row["topic"]).casefold()))
    return rows, spikes


def _local_day(moment: datetime, *, end: bool = False) -> date:
    """The Amsterdam day of a period's start, or the first day after a period's end."""
    local = moment.astimezone(AMSTERDAM)
    if end:
        local -= timedelta(microseconds=1)
        return local.date() + timedelta(days=1)
    return local.date()


# Top terms and hashtags of a period in one pass over its days and the previous period's:
# per term the sums in both periods, the citizen threshold on the period's sum, and a rank
# per kind.
_TERMS_SQL = """
SELECT term, is_hashtag, messages, citizens, previous FROM (
    SELECT term, is_hashtag, messages, citizens, previous,
        row_number() OVER (PARTITION BY is_hashtag ORDER BY messages DESC, citizens DESC, term)
            AS rank
    FROM (
        SELECT term, bool_or(is_hashtag) AS is_hashtag,
            coalesce(sum(messages) FILTER (WHERE day >= %(first)s), 0) AS messages,
            coalesce(sum(citizens) FILTER (WHERE day >= %(first)s), 0) AS citizens,
            coalesce(sum(messages) FILTER (WHERE day < %(first)s), 0) AS previous
        FROM inbox_metricstermday
        WHERE day >= %(previous_first)s AND day < %(end)s
        GROUP BY term
    ) AS sums
    WHERE citizens >= %(min_citizens)s
) AS ranked
WHERE rank <= CASE WHEN is_hashtag THEN %(top_hashtags)s ELSE %(top_terms)s END
ORDER BY is_hashtag, rank
"""


def term_rows(query: MetricsQuery) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The TOP_TERMS words and TOP_HASHTAGS hashtags citizens used most in the period (in
    messages), with the previous period's count; only terms used by at least
    WEBCARE_TERM_MIN_CITIZENS citizens (summed per day: a citizen who used it on two days
    counts twice). Whole Amsterdam days; channel and team filters do not apply. One query."""
    first = _local_day(query.start)
    end = _local_day(query.end, end=True)
    previous_first = first - (end - first)
    with connection.cursor() as cursor:
        cursor.execute(
            _TERMS_SQL,
            {
                "first": first,
                "end": end,
                "previous_first": previous_first,
                "min_citizens": settings.WEBCARE_TERM_MIN_CITIZENS,
                "top_terms": TOP_TERMS,
                "top_hashtags": TOP_HASHTAGS,
            },
        )
        fetched = cursor.fetchall()
    words: list[dict[str, Any]] = []
    hashtags: list[dict[str, Any]] = []
    for term, is_hashtag, messages, citizens, before in fetched:
        change, change_percent = _change(int(messages), int(before))
        row = {
            "term": term,
            "is_hashtag": is_hashtag,
            "kind": _("Hashtag") if is_hashtag else _("Word"),
            "messages": int(messages),
            "citizens": int(citizens),
            "previous": int(before),
            "change": change,
            "change_percent": change_percent,
            "change_points": _points(change_percent),
        }
        (hashtags if is_hashtag else words).append(row)
    for rows in (words, hashtags):
        top = max((row["messages"] for row in rows), default=0)
        for row in rows:
            # The bar's length in steps of 5 % (a CSS class: the CSP allows no style attribute).
            row["bar"] = max(5, round(row["messages"] / top * 20) * 5) if top else 0
    return words, hashtags


def topics_overview(query: MetricsQuery) -> dict[str, Any]:
    """Context for templates/inbox/_dashboard_topics.html: the topics table, the top terms
    and hashtags, and the spikes (also read by the dashboard's live strip). Four queries."""
    topics, spikes = topic_rows(query)
    terms, hashtags = term_rows(query)
    return {
        "topics": topics,
        "terms": terms,
        "hashtags": hashtags,
        "spikes": spikes,
        "term_lists": [
            {
                "key": "terms",
                "title": _("Frequent words"),
                "caption": _("The words citizens used most in this period, with the change"),
                "term_label": _("Word"),
                "rows": terms,
                "empty": _("No word was used by enough citizens in this period."),
            },
            {
                "key": "hashtags",
                "title": _("Frequent hashtags"),
                "caption": _("The hashtags citizens used most in this period, with the change"),
                "term_label": _("Hashtag"),
                "rows": hashtags,
                "empty": _("No hashtag was used by enough citizens in this period."),
            },
        ],
        "min_citizens": settings.WEBCARE_TERM_MIN_CITIZENS,
        "spike_rule": {
            "hours": int(SPIKE_WINDOW.total_seconds() // 3600),
            "days": SPIKE_BASELINE_DAYS,
            "minimum": SPIKE_MIN_MESSAGES,
            "factor": SPIKE_FACTOR,
        },
        "now": query.now.astimezone(UTC),
    }


# --- tables for the export and the API -----------------------------------------------------

_CHANGE_COLUMNS = [
    Column("previous", _("Previous period"), help=_("Messages in the period just before.")),
    Column("change", _("Difference"), help=_("Messages in the period minus the previous period.")),
    Column(
        "change_percent",
        _("Difference %"),
        kind="percent",
        help=_("The difference as a fraction of the previous period; empty when that was 0."),
    ),
]


@metrics_table("topics")
def topics_table(query: MetricsQuery) -> MetricsTable:
    rows, _spikes = topic_rows(query)
    return MetricsTable(
        slug="topics",
        title=_("Topics"),
        columns=[
            Column("topic", _("Topic"), kind="text"),
            Column(
                "messages",
                _("Messages"),
                help=_("Citizen messages about the topic (its keywords) in the period."),
            ),
            *_CHANGE_COLUMNS,
            Column(
                "spike",
                _("Spike now"),
                help=_("1 when the topic spikes now (docs/metrics.md, spike alert)."),
            ),
        ],
        rows=rows,
        definition_anchor="#topics",
    )


@metrics_table("terms")
def terms_table(query: MetricsQuery) -> MetricsTable:
    words, hashtags = term_rows(query)
    return MetricsTable(
        slug="terms",
        title=_("Frequent terms and hashtags"),
        columns=[
            Column("term", _("Term"), kind="text"),
            Column("kind", _("Kind"), kind="text"),
            Column(
                "messages",
                _("Messages"),
                help=_("Citizen messages in the period that use the term (each once)."),
            ),
            Column(
                "citizens",
                _("Citizens"),
                help=_(
                    "Citizens who used it, counted per day and added up (a citizen may count "
                    "once per day)."
                ),
            ),
            *_CHANGE_COLUMNS,
        ],
        rows=words + hashtags,
        definition_anchor="#frequent-terms-and-hashtags",
    )
