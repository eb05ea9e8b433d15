"""Keeps the dashboard's facts (WaitFact, CycleFact) and hourly rollups (MetricsHour,
MetricsAgentHour, MetricsTagHour, and through the topics hooks MetricsTopicHour and
MetricsTermDay) in step with the conversations that changed.

Every change of a conversation appends a MetricsDirtyConversation mark in its own
transaction (services.audit, ingest, bulk assignment). `metrics_refresh`, run by the beat
task `inbox.metrics_refresh` every 15 seconds, takes marks in batches and, per batch in one
transaction: rebuilds those conversations' facts whole (inbox/metrics/facts.py), rebuilds
every UTC hour of the rollups the old or new facts and the conversations' messages and cycles
touch, whole hours over all conversations, and deletes the marks. So the rollups always equal
a computation from scratch over the facts and messages (docs/architecture.md, "Dashboard and
metrics"; docs/metrics.md defines each count).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from inbox.metrics.facts import (
    Assignment,
    ConversationHistory,
    Cycle,
    InboundMessage,
    SentReply,
    conversation_facts,
)
from inbox.metrics.working_time import calendars_for_teams
from inbox.models import (
    AuditEvent,
    CareCycle,
    Conversation,
    CycleFact,
    Message,
    MetricsDirtyConversation,
    WaitFact,
)
from inbox.services import topics

__all__ = [
    "metrics_hours_rebuild",
    "metrics_pending_changes",
    "metrics_rebuild_all",
    "metrics_refresh",
    "metrics_refresh_lock",
]

# pg_advisory_xact_lock key: one refresh at a time. Two refreshes rebuilding the same hour
# would both delete it and then both insert it, and collide on the rollups' unique keys.
REFRESH_LOCK_KEY = 7_266_001

# The beat task runs every 15 seconds; a refresh stops starting new batches after this long,
# and the next run carries on.
REFRESH_TIME_BUDGET_SECONDS = 10.0

ASSIGNMENT_ACTIONS = (
    "conversation.assigned",
    "conversation.transferred",
    "conversation.unassigned",
)

# Bulk inserts in chunks, so one statement never nears PostgreSQL's 65535 parameters.
_INSERT_CHUNK = 1000


def metrics_refresh(
    *,
    batch_size: int = 500,
    time_budget: float | None = REFRESH_TIME_BUDGET_SECONDS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild the facts of the conversations marked changed and the rollup hours they touch;
    returns how many conversations were handled. Batch after batch, each its own transaction,
    until no marks are left or `time_budget` seconds are spent (None: until done)."""
    started = time.monotonic()
    # A conversation changed twice may have marks in two batches; it counts once.
    handled: set[int] = set()
    batches = 0
    while True:
        marks, conversation_ids = _refresh_batch(batch_size)
        handled.update(conversation_ids)
        batches += 1
        if batches in _ANALYZE_AFTER_BATCHES:
            _analyze_facts()
        if progress is not None and marks:
            progress(len(handled))
        if marks < batch_size:
            return len(handled)
        if time_budget is not None and time.monotonic() - started >= time_budget:
            return len(handled)


# A long refresh (a full rebuild, a change of opening hours) grows the fact tables faster
# than autovacuum notices; without fresh statistics the planner reads the range joins of
# the rollups as scans of whole tables, and every batch gets slower than the one before.
_ANALYZE_AFTER_BATCHES = (10, 100, 1000)


def _analyze_facts() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_waitfact, inbox_cyclefact, inbox_messagetopic")


def metrics_rebuild_all(*, progress: Callable[[int], None] | None = None) -> int:
    """Mark every conversation changed and refresh until nothing is left."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO inbox_metricsdirtyconversation (conversation_id, created_at)"
                " SELECT id, now() FROM inbox_conversation"
            )
        # Rollup hours no conversation touches any more (data deleted since) are rebuilt too,
        # which empties them: afterwards the rollups are exactly a computation from scratch.
        _lock()
        _rollups_rebuild(_rollup_hours_present())
    return metrics_refresh(time_budget=None, progress=progress)


def metrics_pending_changes() -> int:
    """How many change marks wait for the refresh (the dashboard says "updating")."""
    return MetricsDirtyConversation.objects.count()


# --- one batch ------------------------------------------------------------------------------


def metrics_refresh_lock() -> None:
    """Wait for a running refresh and keep others out until the caller's transaction ends.
    A deletion takes it before deleting facts, so that it cannot deadlock with a refresh
    inserting facts for the same rows (services/privacy.py)."""
    _lock()


def metrics_hours_rebuild(hours: Collection[datetime]) -> None:
    """Rebuild these rollup hours (and their topic counts) now, from what is left: for a
    deletion, whose facts are gone before the refresh could tell which hours they counted in.
    Call within the transaction that holds `metrics_refresh_lock`."""
    _rollups_rebuild(hours)
    topics.topic_rollups_rebuild(hours)


def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])


@transaction.atomic
def _refresh_batch(batch_size: int) -> tuple[int, list[int]]:
    """Handle up to `batch_size` marks; returns how many, and the conversations."""
    _lock()
    # Only marks committed before this statement are seen (READ COMMITTED); their changes
    # are committed too, so the reads below see them. A change committing while this batch
    # runs leaves its mark in place (this DELETE never saw it), and a later batch handles
    # it: no change is lost, at worst one is handled twice. SKIP LOCKED keeps the statement
    # from waiting on rows another transaction is deleting.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {MetricsDirtyConversation._meta.db_table} WHERE id IN ("  # noqa: S608
            f" SELECT id FROM {MetricsDirtyConversation._meta.db_table}"
            " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING conversation_id",
            [batch_size],
        )
        rows = cursor.fetchall()
    if not rows:
        return 0, []
    conversation_ids = sorted({conversation_id for (conversation_id,) in rows})
    hours = _facts_rebuild(conversation_ids)
    _rollups_rebuild(hours)
    topics.topics_refresh_for_conversations(conversation_ids)
    topics.topic_rollups_rebuild(hours)
    return len(rows), conversation_ids


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _facts_rebuild(conversation_ids: list[int]) -> set[datetime]:
    """Replace the facts of these conversations; returns the UTC hours the old and new facts,
    messages and cycles fall in: the rollup hours that may have changed."""
    moments: list[datetime | None] = []
    old_waits = WaitFact.objects.filter(conversation_id__in=conversation_ids)
    for started_at, ended_at in old_waits.values_list("started_at", "ended_at"):
        moments += [started_at, ended_at]
    old_cycles = CycleFact.objects.filter(conversation_id__in=conversation_ids)
    for started_at, resolved_at in old_cycles.values_list("started_at", "resolved_at"):
        moments += [started_at, resolved_at]
    old_waits.delete()
    old_cycles.delete()

    histories = _histories(conversation_ids, moments)
    calendars = calendars_for_teams(history.team_id for history in histories)
    waits: list[WaitFact] = []
    cycle_facts: list[CycleFact] = []
    for history in histories:
        facts = conversation_facts(history, calendars[history.team_id])
        shared = {
            "conversation_id": history.conversation_id,
            "channel_id": history.channel_id,
            "team_id": history.team_id,
            "priority": history.priority,
            "is_private": history.is_private,
        }
        for wait in facts.waits:
            moments += [wait.started_at, wait.ended_at]
            waits.append(
                WaitFact(
                    **shared,
                    cycle_number=wait.cycle_number,
                    is_first_in_cycle=wait.is_first_in_cycle,
                    started_at=wait.started_at,
                    answers_until=wait.answers_until,
                    ended_at=wait.ended_at,
                    outcome=wait.outcome,
                    responder_id=wait.responder_id,
                    reply_is_private=wait.reply_is_private,
                    messages=wait.messages,
                    calendar_seconds=wait.calendar_seconds,
                    working_seconds=wait.working_seconds,
                    handling_started_at=wait.handling_started_at,
                    handling_calendar_seconds=wait.handling_calendar_seconds,
                    handling_working_seconds=wait.handling_working_seconds,
                )
            )
        cycle_facts.extend(
            CycleFact(
                **shared,
                number=cycle.number,
                started_at=cycle.started_at,
                first_response_at=cycle.first_response_at,
                first_responder_id=cycle.first_responder_id,
                first_response_calendar_seconds=cycle.first_response_calendar_seconds,
                first_response_working_seconds=cycle.first_response_working_seconds,
                resolved_at=cycle.resolved_at,
                resolved_by_id=cycle.resolved_by_id,
                resolution_calendar_seconds=cycle.resolution_calendar_seconds,
                resolution_working_seconds=cycle.resolution_working_seconds,
            )
            for cycle in facts.cycles
        )
    WaitFact.objects.bulk_create(waits, batch_size=_INSERT_CHUNK)
    CycleFact.objects.bulk_create(cycle_facts, batch_size=_INSERT_CHUNK)
    return {_hour(moment) for moment in moments if moment is not None}


def _histories(
    conversation_ids: list[int], moments: list[datetime | None]
) -> list[ConversationHistory]:
    """The histories of these conversations in four queries, however many there are. Adds the
    moments of their messages and cycles to `moments`. A conversation that no longer exists
    has none; a merged-away one has no messages or cycles left (they moved to the
    conversation it went into, which is marked changed in the same transaction)."""
    inbound: dict[int, list[InboundMessage]] = defaultdict(list)
    replies: dict[int, list[SentReply]] = defaultdict(list)
    for conversation_id, direction, sent_at, delivered_at, author_id, is_private in (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .filter(
            Q(direction=Message.Direction.INBOUND)
            | Q(direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.SENT)
        )
        # A fixed order: of two replies delivered and composed at the same moment, the
        # first stored answers (inbox/metrics/facts.py).
        .order_by("sent_at", "id")
        .values_list(
            "conversation_id",
            "direction",
            "sent_at",
            "delivered_at",
            "author_user_id",
            "is_private",
        )
    ):
        if direction == Message.Direction.INBOUND:
            moments.append(sent_at)
            inbound[conversation_id].append(InboundMessage(sent_at=sent_at, is_private=is_private))
        else:
            # Both ends: a reply made outside Webcare, seen first and merged into this one
            # later (reply.echo_merged), was counted at a moment in between.
            moments += [sent_at, delivered_at]
            replies[conversation_id].append(
                SentReply(
                    sent_at=sent_at,
                    delivered_at=delivered_at or sent_at,
                    author_id=author_id,
                    is_private=is_private,
                )
            )
    cycles: dict[int, list[Cycle]] = defaultdict(list)
    for (
        conversation_id,
        number,
        started_at,
        resolved_at,
        resolved_by_id,
    ) in CareCycle.objects.filter(conversation_id__in=conversation_ids).values_list(
        "conversation_id", "number", "started_at", "resolved_at", "resolved_by_id"
    ):
        moments += [started_at, resolved_at]
        cycles[conversation_id].append(
            Cycle(
                number=number,
                started_at=started_at,
                resolved_at=resolved_at,
                resolved_by_id=resolved_by_id,
            )
        )
    assignments: dict[int, list[Assignment]] = defaultdict(list)
    for conversation_id, action, created_at, data in (
        AuditEvent.objects.filter(
            conversation_id__in=conversation_ids, action__in=ASSIGNMENT_ACTIONS
        )
        .order_by("created_at", "id")
        .values_list("conversation_id", "action", "created_at", "data")
    ):
        assignee_id = (
            None if action == "conversation.unassigned" else (data or {}).get("assignee_id")
        )
        assignments[conversation_id].append(Assignment(at=created_at, assignee_id=assignee_id))
    conversations = Conversation.objects.filter(id__in=conversation_ids).values_list(
        "id", "channel_id", "team_id", "priority", "is_private"
    )
    return [
        ConversationHistory(
            conversation_id=conversation_id,
            channel_id=channel_id,
            team_id=team_id,
            priority=priority,
            is_private=is_private,
            inbound=inbound[conversation_id],
            replies=replies[conversation_id],
            cycles=cycles[conversation_id],
            assignments=assignments[conversation_id],
        )
        for conversation_id, channel_id, team_id, priority, is_private in conversations
    ]


# --- rollups --------------------------------------------------------------------------------

# Each rollup is rebuilt for a set of whole UTC hours: delete them, insert them again from
# the messages and facts, over all conversations. Every part of a UNION contributes 1 to at
# least one count, so no row is all zero. Counts are per the conversation's current channel
# and team (docs/metrics.md, "Counts").

_HOURS = "hours AS (SELECT DISTINCT unnest(%(hours)s::timestamptz[]) AS hour)"
_IN_HOUR = "{column} >= h.hour AND {column} < h.hour + interval '1 hour'"
# Citizen messages of the hours, with their conversation's current channel and team. A
# LATERAL subquery per hour and channel makes each a range scan of message_dashboard_idx
# (channel, direction, sent_at): joined plainly, the planner hashes every citizen message
# ever received and filters that hash once per hour (seconds per batch at 100,000 messages).
# OFFSET 0 keeps the planner from flattening the subquery back into that plan.
_INBOUND = """hours h CROSS JOIN channels_channel ch
    CROSS JOIN LATERAL (
        SELECT m.conversation_id, m.sent_at, m.is_private,
            c.channel_id AS conversation_channel_id, c.team_id
        FROM inbox_message m JOIN inbox_conversation c ON c.id = m.conversation_id
        WHERE m.channel_id = ch.id AND m.direction = 'inbound'
            AND m.sent_at >= h.hour AND m.sent_at < h.hour + interval '1 hour'
        OFFSET 0
    ) m"""
# Replies that reached the platform in the hours: each hour a range scan of the partial
# index message_delivered_idx (sent replies by delivered_at). Every sent reply has its
# delivery time (a constraint), so nothing sent is missed.
_DELIVERED = """hours h
    CROSS JOIN LATERAL (
        SELECT m.author_user_id, m.channel_id, m.is_private,
            c.channel_id AS conversation_channel_id, c.team_id
        FROM inbox_message m JOIN inbox_conversation c ON c.id = m.conversation_id
        WHERE m.delivery_status = 'sent' AND m.direction = 'outbound'
            AND m.delivered_at >= h.hour AND m.delivered_at < h.hour + interval '1 hour'
        OFFSET 0
    ) m"""

_METRICS_HOUR_SQL = f"""
WITH {_HOURS}
INSERT INTO inbox_metricshour (
    hour, channel_id, team_id, messages_in, messages_in_private, messages_answered,
    replies_sent, replies_sent_private, conversations_new, cycles_started, cycles_resolved,
    waits_started, waits_ended)
SELECT hour, channel_id, team_id, SUM(a), SUM(b), SUM(c), SUM(d), SUM(e), SUM(f), SUM(g),
       SUM(i), SUM(j), SUM(k)
FROM (
    SELECT h.hour, m.conversation_channel_id AS channel_id, m.team_id, 1 AS a,
        m.is_private::int AS b,
        (EXISTS (
            SELECT 1 FROM inbox_waitfact w
            WHERE w.conversation_id = m.conversation_id AND w.outcome = 'answered'
              AND w.started_at <= m.sent_at AND m.sent_at <= w.answers_until
        ))::int AS c,
        0 AS d, 0 AS e, 0 AS f, 0 AS g, 0 AS i, 0 AS j, 0 AS k
    FROM {_INBOUND}
  UNION ALL
    SELECT h.hour, m.conversation_channel_id, m.team_id, 0, 0, 0, 1, m.is_private::int,
        0, 0, 0, 0, 0
    FROM {_DELIVERED}
  UNION ALL
    SELECT h.hour, f.channel_id, f.team_id, 0, 0, 0, 0, 0, (f.number = 1)::int, 1, 0, 0, 0
    FROM hours h JOIN inbox_cyclefact f ON {_IN_HOUR.format(column="f.started_at")}
  UNION ALL
    SELECT h.hour, f.channel_id, f.team_id, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0
    FROM hours h JOIN inbox_cyclefact f ON {_IN_HOUR.format(column="f.resolved_at")}
  UNION ALL
    SELECT h.hour, w.channel_id, w.team_id, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM hours h JOIN inbox_waitfact w ON {_IN_HOUR.format(column="w.started_at")}
  UNION ALL
    SELECT h.hour, w.channel_id, w.team_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
    FROM hours h JOIN inbox_waitfact w ON {_IN_HOUR.format(column="w.ended_at")}
) AS parts
GROUP BY hour, channel_id, team_id
"""  # noqa: S608

_METRICS_AGENT_HOUR_SQL = f"""
WITH {_HOURS}
INSERT INTO inbox_metricsagenthour (
    hour, agent_id, channel_id, replies_sent, replies_sent_private, cycles_resolved)
SELECT hour, agent_id, channel_id, SUM(a), SUM(b), SUM(c)
FROM (
    SELECT h.hour, m.author_user_id AS agent_id, m.channel_id, 1 AS a, m.is_private::int AS b,
        0 AS c
    FROM {_DELIVERED}
    WHERE m.author_user_id IS NOT NULL
  UNION ALL
    SELECT h.hour, f.resolved_by_id, f.channel_id, 0, 0, 1
    FROM hours h JOIN inbox_cyclefact f ON f.resolved_by_id IS NOT NULL
        AND {_IN_HOUR.format(column="f.resolved_at")}
) AS parts
GROUP BY hour, agent_id, channel_id
"""  # noqa: S608

_METRICS_TAG_HOUR_SQL = f"""
WITH {_HOURS}
INSERT INTO inbox_metricstaghour (hour, tag_id, channel_id, messages_in, cycles_started)
SELECT hour, tag_id, channel_id, SUM(a), SUM(b)
FROM (
    SELECT h.hour, ct.tag_id, m.conversation_channel_id AS channel_id, 1 AS a, 0 AS b
    FROM {_INBOUND}
    JOIN inbox_conversationtag ct ON ct.conversation_id = m.conversation_id
  UNION ALL
    SELECT h.hour, ct.tag_id, f.channel_id, 0, 1
    FROM hours h JOIN inbox_cyclefact f ON {_IN_HOUR.format(column="f.started_at")}
    JOIN inbox_conversationtag ct ON ct.conversation_id = f.conversation_id
) AS parts
GROUP BY hour, tag_id, channel_id
"""  # noqa: S608

_ROLLUPS = (
    ("inbox_metricshour", _METRICS_HOUR_SQL),
    ("inbox_metricsagenthour", _METRICS_AGENT_HOUR_SQL),
    ("inbox_metricstaghour", _METRICS_TAG_HOUR_SQL),
)


def _rollups_rebuild(hours: Collection[datetime]) -> None:
    """Rebuild these whole UTC hours of MetricsHour, MetricsAgentHour and MetricsTagHour."""
    if not hours:
        return
    hour_list = sorted(hours)
    params: dict[str, Any] = {"hours": hour_list}
    with connection.cursor() as cursor:
        # These statements are cheap but look expensive to the planner (a range join over
        # an array of hours); JIT compiling them would cost more than running them.
        cursor.execute("SET LOCAL jit = off")
        for table, insert_sql in _ROLLUPS:
            cursor.execute(f"DELETE FROM {table} WHERE hour = ANY(%s)", [hour_list])  # noqa: S608
            cursor.execute(insert_sql, params)


def _rollup_hours_present() -> set[datetime]:
    hours: set[datetime] = set()
    with connection.cursor() as cursor:
        for table, _sql in _ROLLUPS:
            cursor.execute(f"SELECT DISTINCT hour FROM {table}")  # noqa: S608
            hours.update(_hour(hour) for (hour,) in cursor.fetchall())
    return hours
