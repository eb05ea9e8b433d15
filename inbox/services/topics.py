"""Topic rules, the topics of citizen messages, and the topic and term rollups
(docs/metrics.md, "Topics", "Frequent terms and hashtags"; docs/architecture.md, "Dashboard
and metrics").

Team leads edit topics here (with an audit event). A new or changed topic must be applied to
past messages: the change marks every conversation with a citizen message of the last
TOPIC_REAPPLY_DAYS days, and the metrics refresh (services/metrics.py) then calls the two
hooks below, inside its transaction, for the conversations and hours it handles.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import Channel
from inbox import routing
from inbox.metrics.terms import TermCounter, own_words
from inbox.metrics.topics import topic_rules, topics_of
from inbox.metrics.working_time import AMSTERDAM
from inbox.models import Message, MessageTopic, MetricsTermDay, Topic
from inbox.services.assignment import team_lead_or_denied
from inbox.services.common import ServiceError, audit

logger = logging.getLogger(__name__)

__all__ = [
    "topic_create",
    "topic_delete",
    "topic_rollups_rebuild",
    "topic_update",
    "topics_mark_recent_conversations",
    "topics_refresh_for_conversations",
]

# A new or changed topic is applied to the citizen messages of this many days back.
TOPIC_REAPPLY_DAYS = 90

# --- topic rules ---------------------------------------------------------------------------


def _topic_fields(*, name: str, keywords: str, is_active: bool) -> dict[str, Any]:
    name = " ".join(name.split())
    if not name:
        raise ServiceError(_("Give the topic a name."))
    if len(name) > Topic._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ServiceError(_("The name is too long."))
    # Stored as typed, one keyword per line, so the team lead sees what they wrote; matched
    # through routing.keywords_parse like a routing rule.
    cleaned = "\n".join(
        line.strip() for line in keywords.replace(",", "\n").splitlines() if line.strip()
    )
    if not routing.keywords_parse(cleaned):
        raise ServiceError(_("Give at least one keyword or #hashtag."))
    return {"name": name, "keywords": cleaned, "is_active": is_active}


def topics_mark_recent_conversations(*, now: datetime | None = None) -> int:
    """Mark every conversation with a citizen message of the last TOPIC_REAPPLY_DAYS days for
    the metrics refresh, which rebuilds their topics and the rollups: one set-based insert,
    in the caller's transaction. Returns how many were marked."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inbox_metricsdirtyconversation (conversation_id, created_at)"
            " SELECT DISTINCT conversation_id, %s::timestamptz FROM inbox_message"
            " WHERE direction = 'inbound' AND sent_at >= %s::timestamptz - %s * interval '1 day'",
            [now, now, TOPIC_REAPPLY_DAYS],
        )
        return cursor.rowcount


@transaction.atomic
def topic_create(*, actor: User, name: str, keywords: str, is_active: bool = True) -> Topic:
    team_lead_or_denied(actor)
    fields = _topic_fields(name=name, keywords=keywords, is_active=is_active)
    try:
        with transaction.atomic():
            topic = Topic.objects.create(created_by=actor, **fields)
    except IntegrityError as error:
        raise ServiceError(_("A topic with this name exists already.")) from error
    audit("topic.created", actor=actor, topic_id=topic.pk, **fields)
    if topic.is_active:
        topics_mark_recent_conversations()
    return topic


@transaction.atomic
def topic_update(*, actor: User, topic_id: int, name: str, keywords: str, is_active: bool) -> Topic:
    """Change a topic; switching it off (is_active False) keeps its rule for later. A change
    of keywords or of being active is applied to the last TOPIC_REAPPLY_DAYS days."""
    team_lead_or_denied(actor)
    topic = Topic.objects.select_for_update().filter(id=topic_id).first()
    if topic is None:
        raise ServiceError(_("This topic does not exist."))
    fields = _topic_fields(name=name, keywords=keywords, is_active=is_active)
    changed = [column for column, value in fields.items() if getattr(topic, column) != value]
    if not changed:
        return topic
    previous = {column: getattr(topic, column) for column in changed}
    for column in changed:
        setattr(topic, column, fields[column])
    try:
        with transaction.atomic():
            topic.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as error:
        raise ServiceError(_("A topic with this name exists already.")) from error
    audit(
        "topic.updated",
        actor=actor,
        topic_id=topic.pk,
        previous=previous,
        **{column: fields[column] for column in changed},
    )
    # A new name changes no message's topics.
    if "keywords" in changed or "is_active" in changed:
        topics_mark_recent_conversations()
    return topic


@transaction.atomic
def topic_delete(*, actor: User, topic_id: int) -> None:
    """Delete a topic; its MessageTopic and MetricsTopicHour rows go with it (cascade), so
    nothing needs to be recomputed."""
    team_lead_or_denied(actor)
    topic = Topic.objects.select_for_update().filter(id=topic_id).first()
    if topic is None:
        return  # deleted already: a double click deletes once
    audit("topic.deleted", actor=actor, topic_id=topic.pk, name=topic.name)
    topic.delete()


# --- hooks of the metrics refresh ----------------------------------------------------------


def topics_refresh_for_conversations(conversation_ids: Collection[int]) -> None:
    """Rebuild the MessageTopic rows of these conversations' citizen messages (delete, then
    insert what the active topics match): four queries, whatever the number of
    conversations."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return
    # Anonymised text no longer matches anything: the topics found before it was removed
    # stay, so retention does not change the topic figures (services/privacy.py).
    MessageTopic.objects.filter(
        message__conversation_id__in=ids,
        message__direction=Message.Direction.INBOUND,
        message__conversation__anonymised_at__isnull=True,
    ).delete()
    rules = topic_rules(Topic.objects.filter(is_active=True).values_list("id", "keywords"))
    if not rules:
        return
    messages = Message.objects.filter(
        conversation_id__in=ids,
        direction=Message.Direction.INBOUND,
        conversation__anonymised_at__isnull=True,
    ).values_list("id", "channel_id", "sent_at", "text")
    MessageTopic.objects.bulk_create(
        MessageTopic(message_id=message_id, topic_id=topic_id, channel_id=channel_id, sent_at=sent)
        for message_id, channel_id, sent, text in messages.iterator(chunk_size=2000)
        for topic_id in topics_of(text, rules)
    )


def _utc_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """An Amsterdam day as [start, end) in UTC (23 or 25 hours on a summer-time change)."""
    start = datetime.combine(day, time.min, tzinfo=AMSTERDAM)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=AMSTERDAM)
    return start.astimezone(UTC), end.astimezone(UTC)


def topic_rollups_rebuild(hours: Collection[datetime]) -> None:
    """Rebuild MetricsTopicHour for these UTC hours (from MessageTopic, set-based) and
    MetricsTermDay for every Amsterdam day they fall in (from that whole day's citizen
    messages)."""
    utc_hours = sorted({_utc_hour(hour) for hour in hours})
    if not utc_hours:
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inbox_metricstopichour WHERE hour = ANY(%s)", [utc_hours])
        # A join on each hour's range uses the sent_at index once per hour, for a few hours
        # of a live batch as for the 2,000 of a topic change.
        cursor.execute(
            "INSERT INTO inbox_metricstopichour (hour, topic_id, channel_id, messages_in)"
            " SELECT h.hour, mt.topic_id, mt.channel_id, count(*)"
            " FROM unnest(%s::timestamptz[]) AS h(hour)"
            " JOIN inbox_messagetopic mt"
            "  ON mt.sent_at >= h.hour AND mt.sent_at < h.hour + interval '1 hour'"
            " GROUP BY h.hour, mt.topic_id, mt.channel_id",
            [utc_hours],
        )
    term_days_rebuild({hour.astimezone(AMSTERDAM).date() for hour in utc_hours})


# --- term days -----------------------------------------------------------------------------

# Bump when the tokenisation in inbox/metrics/terms.py changes: every day is then recounted.
TERMS_VERSION = 1
# How long a day's fingerprint is remembered; a forgotten one only costs a recount.
_FINGERPRINT_SECONDS = 100 * 86400

# A LATERAL subquery per day and channel: each a range scan of message_dashboard_idx
# (channel, direction, sent_at); joined plainly on the day's range the planner scans every
# citizen message once per day (2.5 s for 45 days at a million messages, 0.1 s this way).
# OFFSET 0 keeps it from flattening the subquery back into that plan.
_DAYS_SQL = (
    "FROM unnest(%s::date[], %s::timestamptz[], %s::timestamptz[]) AS d(day, starts, ends)"
    " CROSS JOIN channels_channel ch"
    " {join} LATERAL (SELECT m.id, m.text, m.author_contact_id FROM inbox_message m"
    "  WHERE m.channel_id = ch.id AND m.direction = 'inbound'"
    "  AND m.sent_at >= d.starts AND m.sent_at < d.ends OFFSET 0) m {on}"
)


def _term_counter() -> TermCounter:
    handles = Channel.objects.exclude(account_handle="").values_list("account_handle", flat=True)
    return TermCounter(
        extra_stop_words=own_words(list(handles), settings.WEBCARE_MUNICIPALITY_NAME)
    )


def _fingerprint_key(day: date, counter: TermCounter) -> str:
    # The database name keeps test databases and copies apart; the municipality's own words
    # are part of the tokenisation.
    words = hashlib.sha256(" ".join(sorted(counter.extra_stop_words)).encode()).hexdigest()[:12]
    database = connection.settings_dict.get("NAME", "")
    return f"metrics:termday:{TERMS_VERSION}:{database}:{words}:{day.isoformat()}"


def term_days_rebuild(days: Collection[date]) -> None:
    """Recount MetricsTermDay for these Amsterdam days from their citizen messages.

    A day is recounted whole: its texts and authors in one query, tokenised in Python. A day
    whose citizen messages (count and ids) and stored rows are as they were after its last
    recount is skipped: a topic change marks 90 days of conversations, and without this every
    refresh batch of them would recount all 90 days although no message changed. The
    fingerprints live in the cache, written after commit; a lost one only costs a recount.
    """
    days = sorted(set(days))
    if not days:
        return
    counter = _term_counter()
    bounds = [_day_bounds(day) for day in days]
    arguments: list[Any] = [
        days,
        [start for start, _end in bounds],
        [end for _start, end in bounds],
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.day, count(m.id), coalesce(sum(m.id), 0) "
            + _DAYS_SQL.format(join="LEFT JOIN", on="ON true")
            + " GROUP BY d.day",
            arguments,
        )
        sources = {day: (count, int(id_sum)) for day, count, id_sum in cursor.fetchall()}
        cursor.execute(
            "SELECT day, count(*), coalesce(sum(messages), 0) FROM inbox_metricstermday"
            " WHERE day = ANY(%s::date[]) GROUP BY day",
            [days],
        )
        stored = {day: (count, int(total)) for day, count, total in cursor.fetchall()}
    keys = {day: _fingerprint_key(day, counter) for day in days}
    remembered = cache.get_many(list(keys.values()))
    changed = [
        day
        for day in days
        if remembered.get(keys[day]) != [*sources.get(day, (0, 0)), *stored.get(day, (0, 0))]
    ]
    if not changed:
        return
    changed_bounds = [_day_bounds(day) for day in changed]
    texts: dict[date, list[tuple[str, int | None]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.day, m.text, m.author_contact_id "
            + _DAYS_SQL.format(join="CROSS JOIN", on=""),
            [changed, [start for start, _e in changed_bounds], [e for _s, e in changed_bounds]],
        )
        for day, text, author_id in cursor.fetchall():
            texts[day].append((text, author_id))
    rows: list[MetricsTermDay] = []
    fingerprints: dict[str, list[int]] = {}
    for day in changed:
        counts = counter.count(texts.get(day, []))
        rows.extend(
            MetricsTermDay(
                day=day,
                term=term,
                is_hashtag=count.is_hashtag,
                messages=count.messages,
                citizens=len(count.authors),
            )
            for term, count in counts.items()
        )
        fingerprints[keys[day]] = [
            *sources.get(day, (0, 0)),
            len(counts),
            sum(count.messages for count in counts.values()),
        ]
    MetricsTermDay.objects.filter(day__in=changed).delete()
    MetricsTermDay.objects.bulk_create(rows, batch_size=5000)
    transaction.on_commit(lambda: _remember(fingerprints))


def _remember(fingerprints: dict[str, list[int]]) -> None:
    try:
        cache.set_many(fingerprints, timeout=_FINGERPRINT_SECONDS)
    except Exception:  # the cache is an optimisation: never fail a committed refresh on it
        logger.warning("Could not remember term day fingerprints", exc_info=True)
