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

import io
import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction

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
_ANALYZE_AFTER_BATCHES = (1, 3, 10, 100, 1000)


# A batch that adds more facts than the statistics say the table holds (the first batches of
# a bulk import, into "empty" tables) would get the rollups' plans for a tiny table: a scan
# of every fact for each citizen message of the hours (minutes per batch at 25,000
# conversations). ANALYZE within the batch sees the batch's own rows. Not for live batches.
_OUTGROWN_MIN_ROWS = 2000


def _analyze_when_outgrown(inserted: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'inbox_waitfact'::regclass")
        row = cursor.fetchone()
    if row is None or inserted > max(row[0], 0):
        _analyze_facts()


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


def metrics_pending_changes(*, at_most: int | None = None) -> int:
    """How many change marks wait for the refresh (the dashboard says "updating"), counting
    no further than `at_most`: a crisis leaves tens of thousands, and counting them all on
    every dashboard view took 80 ms for a yes or no."""
    marks = MetricsDirtyConversation.objects.all()
    return (marks if at_most is None else marks[:at_most]).count()


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


_WAIT_COLUMNS = (
    "conversation_id", "channel_id", "team_id", "priority", "is_private", "cycle_number",
    "is_first_in_cycle", "started_at", "answers_until", "ended_at", "outcome", "responder_id",
    "reply_is_private", "messages", "calendar_seconds", "working_seconds",
    "handling_started_at", "handling_calendar_seconds", "handling_working_seconds",
)  # fmt: skip
_CYCLE_COLUMNS = (
    "conversation_id", "channel_id", "team_id", "priority", "is_private", "number",
    "started_at", "first_response_at", "first_responder_id",
    "first_response_calendar_seconds", "first_response_working_seconds", "resolved_at",
    "resolved_by_id", "resolution_calendar_seconds", "resolution_working_seconds",
)  # fmt: skip


def _facts_rebuild(conversation_ids: list[int]) -> set[datetime]:
    """Replace the facts of these conversations; returns the UTC hours the old and new facts,
    messages and cycles fall in: the rollup hours that may have changed."""
    moments: list[datetime | None] = []
    with connection.cursor() as cursor:
        # The old facts go, and tell which hours they counted in.
        cursor.execute(
            "DELETE FROM inbox_waitfact WHERE conversation_id = ANY(%s)"
            " RETURNING started_at, ended_at",
            [conversation_ids],
        )
        for started_at, ended_at in cursor.fetchall():
            moments += [started_at, ended_at]
        cursor.execute(
            "DELETE FROM inbox_cyclefact WHERE conversation_id = ANY(%s)"
            " RETURNING started_at, resolved_at",
            [conversation_ids],
        )
        for started_at, resolved_at in cursor.fetchall():
            moments += [started_at, resolved_at]

    histories = _histories(conversation_ids, moments)
    calendars = calendars_for_teams(history.team_id for history in histories)
    waits: list[tuple[Any, ...]] = []
    cycle_facts: list[tuple[Any, ...]] = []
    for history in histories:
        facts = conversation_facts(history, calendars[history.team_id])
        shared = (
            history.conversation_id,
            history.channel_id,
            history.team_id,
            history.priority,
            history.is_private,
        )
        for wait in facts.waits:
            moments += [wait.started_at, wait.ended_at]
            waits.append(
                (
                    *shared, wait.cycle_number, wait.is_first_in_cycle, wait.started_at,
                    wait.answers_until, wait.ended_at, wait.outcome, wait.responder_id,
                    wait.reply_is_private, wait.messages, wait.calendar_seconds,
                    wait.working_seconds, wait.handling_started_at,
                    wait.handling_calendar_seconds, wait.handling_working_seconds,
                )
            )  # fmt: skip
        cycle_facts.extend(
            (
                *shared, cycle.number, cycle.started_at, cycle.first_response_at,
                cycle.first_responder_id, cycle.first_response_calendar_seconds,
                cycle.first_response_working_seconds, cycle.resolved_at, cycle.resolved_by_id,
                cycle.resolution_calendar_seconds, cycle.resolution_working_seconds,
            )
            for cycle in facts.cycles
        )  # fmt: skip
    # COPY: for the hundreds of thousands of facts of a bulk import, several times faster
    # than INSERTs of model instances (docs/performance.md, "Dataset").
    _copy_rows(WaitFact._meta.db_table, _WAIT_COLUMNS, waits)
    _copy_rows(CycleFact._meta.db_table, _CYCLE_COLUMNS, cycle_facts)
    if len(waits) >= _OUTGROWN_MIN_ROWS:
        _analyze_when_outgrown(len(waits))
    # Whole hours since the epoch as integers first: millions of moments after a bulk
    # import, and the few thousand distinct hours become datetimes once.
    hour_numbers = {int(moment.timestamp()) // 3600 for moment in moments if moment is not None}
    return {datetime.fromtimestamp(number * 3600, UTC) for number in hour_numbers}


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _copy_rows(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows into a table, in PostgreSQL's text format."""
    if not rows:
        return
    buffer = io.StringIO()
    buffer.writelines("\t".join([_copy_value(value) for value in row]) + "\n" for row in rows)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _histories(
    conversation_ids: list[int], moments: list[datetime | None]
) -> list[ConversationHistory]:
    """The histories of these conversations in four queries, however many there are. Adds the
    moments of their messages and cycles to `moments`. A conversation that no longer exists
    has none; a merged-away one has no messages or cycles left (they moved to the
    conversation it went into, which is marked changed in the same transaction)."""
    inbound: dict[int, list[InboundMessage]] = defaultdict(list)
    replies: dict[int, list[SentReply]] = defaultdict(list)
    # Plain cursors and `= ANY(array)`: for the tens of thousands of conversations of a bulk
    # refresh the ORM's rows and IN lists cost more than the queries.
    with connection.cursor() as cursor:
        # A fixed order: of two replies delivered and composed at the same moment, the
        # first stored answers (inbox/metrics/facts.py).
        cursor.execute(
            "SELECT conversation_id, direction, sent_at, delivered_at, author_user_id,"
            " is_private FROM inbox_message WHERE conversation_id = ANY(%s)"
            " AND (direction = 'inbound' OR (direction = 'outbound' AND delivery_status = 'sent'))"
            " ORDER BY sent_at, id",
            [conversation_ids],
        )
        for (
            conversation_id,
            direction,
            sent_at,
            delivered_at,
            author_id,
            is_private,
        ) in cursor.fetchall():
            if direction == Message.Direction.INBOUND:
                moments.append(sent_at)
                inbound[conversation_id].append(
                    InboundMessage(sent_at=sent_at, is_private=is_private)
                )
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
        cursor.execute(
            "SELECT conversation_id, number, started_at, resolved_at, resolved_by_id"
            " FROM inbox_carecycle WHERE conversation_id = ANY(%s)",
            [conversation_ids],
        )
        for conversation_id, number, started_at, resolved_at, resolved_by_id in cursor.fetchall():
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
        cursor.execute(
            "SELECT conversation_id, action, created_at, data FROM inbox_auditevent"
            " WHERE conversation_id = ANY(%s) AND action = ANY(%s) ORDER BY created_at, id",
            [conversation_ids, list(ASSIGNMENT_ACTIONS)],
        )
        for conversation_id, action, created_at, data in cursor.fetchall():
            if isinstance(data, str):
                data = json.loads(data)
            assignee_id = (
                None if action == "conversation.unassigned" else (data or {}).get("assignee_id")
            )
            assignments[conversation_id].append(Assignment(at=created_at, assignee_id=assignee_id))
        cursor.execute(
            "SELECT id, channel_id, team_id, priority, is_private FROM inbox_conversation"
            " WHERE id = ANY(%s)",
            [conversation_ids],
        )
        conversations = cursor.fetchall()
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

# The hours come as ranges of nearby hours (`_hour_ranges`): each range is one index range
# scan, and a row counts if its hour is one of the hours asked (a hashed `= ANY`). Per hour,
# as before, a bulk refresh of 25,000 conversations made the planner loop over a thousand
# hours for every fact and tag (minutes per batch, docs/performance.md, "Dataset"); a live
# batch's few scattered hours are a few small ranges, as they were a few hours.
_RANGES = (
    "ranges AS (SELECT lo, hi FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[])"
    " AS r(lo, hi))"
)
# The session's time zone is UTC (Django's connection; set again in `_rollups_rebuild`), so
# date_trunc gives the UTC hour.
_IN_HOURS = (
    "{column} >= r.lo AND {column} < r.hi"
    " AND date_trunc('hour', {column}) = ANY(%(hours)s::timestamptz[])"
)
# Citizen messages of the hours, with their conversation's current channel and team. A
# LATERAL subquery per range and channel makes each a range scan of message_dashboard_idx
# (channel, direction, sent_at): joined plainly, the planner hashes every citizen message
# ever received and filters that hash once per range (seconds per batch at 100,000 messages).
# OFFSET 0 keeps the planner from flattening the subquery back into that plan.
_INBOUND = f"""ranges r CROSS JOIN channels_channel ch
    CROSS JOIN LATERAL (
        SELECT m.conversation_id, m.sent_at, m.is_private, date_trunc('hour', m.sent_at) AS hour,
            c.channel_id AS conversation_channel_id, c.team_id
        FROM inbox_message m JOIN inbox_conversation c ON c.id = m.conversation_id
        WHERE m.channel_id = ch.id AND m.direction = 'inbound'
            AND {_IN_HOURS.format(column="m.sent_at")}
        OFFSET 0
    ) m"""  # noqa: S608 - constant text only
# Replies that reached the platform in the hours: each range a range scan of the partial
# index message_delivered_idx (sent replies by delivered_at). Every sent reply has its
# delivery time (a constraint), so nothing sent is missed.
_DELIVERED = f"""ranges r
    CROSS JOIN LATERAL (
        SELECT m.author_user_id, m.channel_id, m.is_private,
            date_trunc('hour', m.delivered_at) AS hour,
            c.channel_id AS conversation_channel_id, c.team_id
        FROM inbox_message m JOIN inbox_conversation c ON c.id = m.conversation_id
        WHERE m.delivery_status = 'sent' AND m.direction = 'outbound'
            AND {_IN_HOURS.format(column="m.delivered_at")}
        OFFSET 0
    ) m"""  # noqa: S608 - constant text only

_METRICS_HOUR_SQL = f"""
WITH {_RANGES}
INSERT INTO inbox_metricshour (
    hour, channel_id, team_id, messages_in, messages_in_private, messages_answered,
    replies_sent, replies_sent_private, conversations_new, cycles_started, cycles_resolved,
    waits_started, waits_ended)
SELECT hour, channel_id, team_id, SUM(a), SUM(b), SUM(c), SUM(d), SUM(e), SUM(f), SUM(g),
       SUM(i), SUM(j), SUM(k)
FROM (
    SELECT m.hour, m.conversation_channel_id AS channel_id, m.team_id, 1 AS a,
        m.is_private::int AS b,
        (EXISTS (
            SELECT 1 FROM inbox_waitfact w
            WHERE w.conversation_id = m.conversation_id AND w.outcome = 'answered'
              AND w.started_at <= m.sent_at AND m.sent_at <= w.answers_until
        ))::int AS c,
        0 AS d, 0 AS e, 0 AS f, 0 AS g, 0 AS i, 0 AS j, 0 AS k
    FROM {_INBOUND}
  UNION ALL
    SELECT m.hour, m.conversation_channel_id, m.team_id, 0, 0, 0, 1, m.is_private::int,
        0, 0, 0, 0, 0
    FROM {_DELIVERED}
  UNION ALL
    SELECT date_trunc('hour', f.started_at), f.channel_id, f.team_id, 0, 0, 0, 0, 0,
        (f.number = 1)::int, 1, 0, 0, 0
    FROM ranges r JOIN inbox_cyclefact f ON {_IN_HOURS.format(column="f.started_at")}
  UNION ALL
    SELECT date_trunc('hour', f.resolved_at), f.channel_id, f.team_id, 0, 0, 0, 0, 0, 0, 0,
        1, 0, 0
    FROM ranges r JOIN inbox_cyclefact f ON {_IN_HOURS.format(column="f.resolved_at")}
  UNION ALL
    SELECT date_trunc('hour', w.started_at), w.channel_id, w.team_id, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 0
    FROM ranges r JOIN inbox_waitfact w ON {_IN_HOURS.format(column="w.started_at")}
  UNION ALL
    SELECT date_trunc('hour', w.ended_at), w.channel_id, w.team_id, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 1
    FROM ranges r JOIN inbox_waitfact w ON {_IN_HOURS.format(column="w.ended_at")}
) AS parts
GROUP BY hour, channel_id, team_id
"""  # noqa: S608

_METRICS_AGENT_HOUR_SQL = f"""
WITH {_RANGES}
INSERT INTO inbox_metricsagenthour (
    hour, agent_id, channel_id, replies_sent, replies_sent_private, cycles_resolved)
SELECT hour, agent_id, channel_id, SUM(a), SUM(b), SUM(c)
FROM (
    SELECT m.hour, m.author_user_id AS agent_id, m.channel_id, 1 AS a, m.is_private::int AS b,
        0 AS c
    FROM {_DELIVERED}
    WHERE m.author_user_id IS NOT NULL
  UNION ALL
    SELECT date_trunc('hour', f.resolved_at), f.resolved_by_id, f.channel_id, 0, 0, 1
    FROM ranges r JOIN inbox_cyclefact f ON f.resolved_by_id IS NOT NULL
        AND {_IN_HOURS.format(column="f.resolved_at")}
) AS parts
GROUP BY hour, agent_id, channel_id
"""  # noqa: S608

_METRICS_TAG_HOUR_SQL = f"""
WITH {_RANGES}
INSERT INTO inbox_metricstaghour (hour, tag_id, channel_id, messages_in, cycles_started)
SELECT hour, tag_id, channel_id, SUM(a), SUM(b)
FROM (
    SELECT m.hour, ct.tag_id, m.conversation_channel_id AS channel_id, 1 AS a, 0 AS b
    FROM {_INBOUND}
    JOIN inbox_conversationtag ct ON ct.conversation_id = m.conversation_id
  UNION ALL
    SELECT date_trunc('hour', f.started_at), ct.tag_id, f.channel_id, 0, 1
    FROM ranges r JOIN inbox_cyclefact f ON {_IN_HOURS.format(column="f.started_at")}
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
    hour_list = sorted({_hour(hour) for hour in hours})
    ranges = _hour_ranges(hour_list)
    params: dict[str, Any] = {
        "hours": hour_list,
        "starts": [start for start, _end in ranges],
        "ends": [end for _start, end in ranges],
    }
    with connection.cursor() as cursor:
        # These statements are cheap but look expensive to the planner (a range join over
        # an array of hours); JIT compiling them would cost more than running them.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL timezone = 'UTC'")
        for table, insert_sql in _ROLLUPS:
            cursor.execute(f"DELETE FROM {table} WHERE hour = ANY(%s)", [hour_list])  # noqa: S608
            cursor.execute(insert_sql, params)


# Hours less than this apart share a range (the hours between are scanned and left out).
_RANGE_GAP = timedelta(hours=12)


def _hour_ranges(hour_list: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted whole hours as [start, end) ranges of nearby hours."""
    ranges: list[list[datetime]] = []
    for hour in hour_list:
        if ranges and hour - ranges[-1][1] <= _RANGE_GAP:
            ranges[-1][1] = hour + _ONE_HOUR
        else:
            ranges.append([hour, hour + _ONE_HOUR])
    return [(start, end) for start, end in ranges]


_ONE_HOUR = timedelta(hours=1)


def _rollup_hours_present() -> set[datetime]:
    hours: set[datetime] = set()
    with connection.cursor() as cursor:
        for table, _sql in _ROLLUPS:
            cursor.execute(f"SELECT DISTINCT hour FROM {table}")  # noqa: S608
            hours.update(_hour(hour) for (hour,) in cursor.fetchall())
    return hours
