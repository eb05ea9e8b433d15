"""Every read of the team lead's dashboard (docs/metrics.md defines each figure).

The figures come from the facts (WaitFact, CycleFact) and the hourly rollups (MetricsHour,
MetricsAgentHour, MetricsTagHour) that services.metrics_refresh() keeps up to date; nothing
here reads the message table. Only the live "now" strip reads conversations and presence.

Each table is registered with @metrics_table, so the page, the CSV/XLSX export and the API
(/api/v1/metrics/<slug>/) show the same rows. Percentiles are computed in PostgreSQL
(percentile_cont); service norms are evaluated at read time as a CASE per norm, so a changed
norm changes the figures at once, without rebuilding facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Aggregate,
    Case,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, ExtractHour, ExtractIsoWeekDay, TruncDate
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from inbox.metrics.norms import Norm, active_norms, norm_for
from inbox.metrics.tables import Column, MetricsQuery, MetricsTable, metrics_table
from inbox.metrics.working_time import AMSTERDAM, WEEKDAYS, calendars_for_teams
from inbox.models import (
    AgentProfile,
    Conversation,
    CycleFact,
    Message,
    MetricsAgentHour,
    MetricsHour,
    MetricsTagHour,
    Tag,
    Team,
    TeamMembership,
    WaitFact,
)

# A breach is "imminent" when the deadline falls within this window (the issue: 30 minutes).
IMMINENT = timedelta(minutes=30)
# How many imminent and breached conversations the "now" strip lists.
NOW_LIST_LENGTH = 10
# The norms table lists this many most recent breaches.
BREACH_LIST_LENGTH = 50

# Response-time distribution buckets, upper bounds in seconds (the last is open).
DISTRIBUTION_BUCKETS: list[tuple[str, Any, int | None]] = [
    ("lt15m", _("Less than 15 minutes"), 15 * 60),
    ("15m_1h", _("15 to 60 minutes"), 60 * 60),
    ("1h_4h", _("1 to 4 hours"), 4 * 3600),
    ("4h_8h", _("4 to 8 hours"), 8 * 3600),
    ("8h_1d", _("8 hours to 1 day"), 24 * 3600),
    ("1d_3d", _("1 to 3 days"), 3 * 86400),
    ("gt3d", _("More than 3 days"), None),
]

NO_TEAM = _("No team")
NO_AGENT = _("Outside Webcare or unknown")
WITHOUT_TAG = _("Without tag")


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile, e.g. the median at 0.5 (accepts filter=)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, percentile: float, **extra: Any) -> None:
        super().__init__(expression, percentile=percentile, **extra)


# --- filters and grouping -----------------------------------------------------------------


def _filtered(queryset: QuerySet, query: MetricsQuery, *, has_team: bool = True) -> QuerySet:
    if query.channel_ids:
        queryset = queryset.filter(channel_id__in=query.channel_ids)
    if query.team_ids and has_team:
        queryset = queryset.filter(team_id__in=query.team_ids)
    return queryset


def _in_period(field_name: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


# The field a fact or rollup is grouped by, per grouping; None: the grouping does not apply.
_WAIT_GROUP = {
    "none": None,
    "channel": "channel_id",
    "team": "team_id",
    "agent": "responder_id",
    "tag": "conversation__tags",
}
_CYCLE_GROUP = {
    "none": None,
    "channel": "channel_id",
    "team": "team_id",
    "agent": "first_responder_id",
    "tag": "conversation__tags",
}


def _grouped(queryset: QuerySet, group_field: str | None) -> QuerySet:
    if group_field is None:
        return queryset.annotate(group=Value(0, output_field=IntegerField())).values("group")
    return queryset.annotate(group=F(group_field)).values("group")


def _agent_filter(query: MetricsQuery) -> Q:
    """Per-agent rollups have no team: a team filter keeps the team's members."""
    if not query.team_ids:
        return Q()
    return Q(
        agent_id__in=TeamMembership.objects.filter(team_id__in=query.team_ids).values("user_id")
    )


def _group_labels(group_by: str, keys: Iterable[Any]) -> dict[Any, str]:
    """Names for the group keys, in one query."""
    keys = [key for key in keys if key is not None]
    labels: dict[Any, str] = {}
    if group_by == "none":
        return {0: str(_("All"))}
    if group_by == "channel":
        labels = dict(Channel.objects.filter(id__in=keys).values_list("id", "name"))
    elif group_by == "team":
        labels = dict(Team.objects.filter(id__in=keys).values_list("id", "name"))
        labels[None] = str(NO_TEAM)
    elif group_by == "agent":
        for user in (
            get_user_model()
            .objects.filter(id__in=keys)
            .only("id", "username", "first_name", "last_name")
        ):
            labels[user.id] = user.get_full_name() or user.get_username()
        labels[None] = str(NO_AGENT)
    elif group_by == "tag":
        labels = dict(Tag.objects.filter(id__in=keys).values_list("id", "name"))
        labels[None] = str(WITHOUT_TAG)
    return labels


def _group_column(query: MetricsQuery) -> Column:
    from inbox.metrics.tables import GROUPINGS

    return Column("group", GROUPINGS[query.group_by], kind="text")


def _ratio(part: int | None, whole: int | None) -> float | None:
    if not whole:
        return None
    return (part or 0) / whole


# --- norms evaluated in SQL -----------------------------------------------------------------


def _applies(norm: Norm) -> Q:
    # A norm without conditions matches every row (When() refuses an empty Q).
    condition = Q(pk__isnull=False)
    if norm.channel_id is not None:
        condition &= Q(channel_id=norm.channel_id)
    if norm.visibility == "public":
        condition &= Q(is_private=False)
    elif norm.visibility == "private":
        condition &= Q(is_private=True)
    if norm.priority is not None:
        condition &= Q(priority=norm.priority)
    return condition


def _norm_cases(
    norms: list[Norm], metric: str, *, calendar_field: str, working_field: str
) -> tuple[Expression, Expression]:
    """(norm id, met) per row as SQL: the first matching norm of the metric wins, as in
    inbox.metrics.norms.norm_for; met is 1 or 0, null when no norm covers the row."""
    metric_norms = [norm for norm in norms if norm.metric == metric]
    if not metric_norms:
        # No norm for this metric: every row is unmeasured (a typed NULL, so SUM() works).
        nothing = Cast(Value(None), IntegerField())
        return nothing, nothing
    norm_whens = [When(_applies(norm), then=Value(norm.id)) for norm in metric_norms]
    met_whens: list[When] = []
    for norm in metric_norms:
        measured = working_field if norm.on_working_time else calendar_field
        met_whens.append(
            When(_applies(norm) & Q(**{f"{measured}__lte": norm.target_seconds}), then=Value(1))
        )
        met_whens.append(When(_applies(norm), then=Value(0)))
    norm_case = Case(*norm_whens, default=Value(None), output_field=IntegerField())
    met_case = Case(*met_whens, default=Value(None), output_field=IntegerField())
    return norm_case, met_case


def _first_response_cases(norms: list[Norm]) -> tuple[Expression, Expression]:
    return _norm_cases(
        norms,
        "first_response",
        calendar_field="first_response_calendar_seconds",
        working_field="first_response_working_seconds",
    )


def _next_response_cases(norms: list[Norm]) -> tuple[Expression, Expression]:
    return _norm_cases(
        norms, "next_response", calendar_field="calendar_seconds", working_field="working_seconds"
    )


def _resolution_cases(norms: list[Norm]) -> tuple[Expression, Expression]:
    return _norm_cases(
        norms,
        "resolution",
        calendar_field="resolution_calendar_seconds",
        working_field="resolution_working_seconds",
    )


# Which facts a metric's norm measures: responses and resolutions that happened in the period.
def _first_responses(query: MetricsQuery, start: datetime, end: datetime) -> QuerySet:
    return _filtered(CycleFact.objects.filter(_in_period("first_response_at", start, end)), query)


def _next_responses(query: MetricsQuery, start: datetime, end: datetime) -> QuerySet:
    return _filtered(
        WaitFact.objects.filter(
            _in_period("ended_at", start, end),
            outcome=WaitFact.Outcome.ANSWERED,
            is_first_in_cycle=False,
        ),
        query,
    )


def _resolutions(query: MetricsQuery, start: datetime, end: datetime) -> QuerySet:
    return _filtered(CycleFact.objects.filter(_in_period("resolved_at", start, end)), query)


# --- the summary: key figures of the period and the previous one -------------------------


# Median and 90th percentile of the first response, on both clocks.
FIRST_RESPONSE_TIME_COLUMNS = [
    Column("first_response_median_working", _("First response, median (working time)"), "seconds"),
    Column(
        "first_response_p90_working", _("First response, 90th percentile (working time)"), "seconds"
    ),
    Column(
        "first_response_median_calendar", _("First response, median (calendar time)"), "seconds"
    ),
    Column(
        "first_response_p90_calendar",
        _("First response, 90th percentile (calendar time)"),
        "seconds",
    ),
]

SUMMARY_COLUMNS = [
    Column("period", _("Period"), kind="text"),
    *FIRST_RESPONSE_TIME_COLUMNS,
    Column("next_response_median_working", _("Next response, median (working time)"), "seconds"),
    Column("resolution_median_working", _("Resolution, median (working time)"), "seconds"),
    Column("first_response_within_norm", _("First responses within norm"), "percent"),
    Column("next_response_within_norm", _("Next responses within norm"), "percent"),
    Column("messages_in", _("Messages in")),
    Column("replies_sent", _("Replies out")),
    Column("cycles_started", _("Conversations opened")),
    Column("cycles_resolved", _("Conversations resolved")),
    Column("reply_rate", _("Reply rate"), "percent", _("Share of citizen messages answered")),
    Column("backlog_end", _("Waiting at the end of the period")),
    Column(
        "formal_requests",
        _("Formal requests"),
        "int",
        _("Citizens' messages that look like an objection, application, Woo request or complaint"),
    ),
]


def _period_label(start: datetime, end: datetime) -> str:
    first = start.astimezone(AMSTERDAM).date()
    last = (end.astimezone(AMSTERDAM) - timedelta(seconds=1)).date()
    if first == last:
        return date_format(first, "j M Y")
    return f"{date_format(first, 'j M Y')} – {date_format(last, 'j M Y')}"


def _summary_row(query: MetricsQuery, start: datetime, end: datetime, norms: list[Norm]) -> dict:
    counts = _filtered(MetricsHour.objects.filter(_in_period("hour", start, end)), query).aggregate(
        messages_in=Sum("messages_in"),
        messages_answered=Sum("messages_answered"),
        replies_sent=Sum("replies_sent"),
        cycles_started=Sum("cycles_started"),
        cycles_resolved=Sum("cycles_resolved"),
    )
    _first_norm, first_met = _first_response_cases(norms)
    # One pass over the cycles for first responses and resolutions of the period.
    answered = _in_period("first_response_at", start, end)
    resolved = _in_period("resolved_at", start, end)
    first = _filtered(CycleFact.objects.filter(answered | resolved), query).aggregate(
        median_working=PercentileCont(
            "first_response_working_seconds", percentile=0.5, filter=answered
        ),
        p90_working=PercentileCont(
            "first_response_working_seconds", percentile=0.9, filter=answered
        ),
        median_calendar=PercentileCont(
            "first_response_calendar_seconds", percentile=0.5, filter=answered
        ),
        p90_calendar=PercentileCont(
            "first_response_calendar_seconds", percentile=0.9, filter=answered
        ),
        met=Sum(first_met, filter=answered),
        measured=Count(first_met, filter=answered),
        resolution_median=PercentileCont(
            "resolution_working_seconds", percentile=0.5, filter=resolved
        ),
    )
    _next_norm, next_met = _next_response_cases(norms)
    following = _next_responses(query, start, end).aggregate(
        median_working=PercentileCont("working_seconds", percentile=0.5),
        met=Sum(next_met),
        measured=Count(next_met),
    )
    return {
        "period": _period_label(start, end),
        "first_response_median_working": first["median_working"],
        "first_response_p90_working": first["p90_working"],
        "first_response_median_calendar": first["median_calendar"],
        "first_response_p90_calendar": first["p90_calendar"],
        "next_response_median_working": following["median_working"],
        "resolution_median_working": first["resolution_median"],
        "first_response_within_norm": _ratio(first["met"], first["measured"]),
        "next_response_within_norm": _ratio(following["met"], following["measured"]),
        "messages_in": counts["messages_in"] or 0,
        "replies_sent": counts["replies_sent"] or 0,
        "cycles_started": counts["cycles_started"] or 0,
        "cycles_resolved": counts["cycles_resolved"] or 0,
        "reply_rate": _ratio(counts["messages_answered"], counts["messages_in"]),
        "backlog_end": backlog_at(query, min(end, query.now)),
    }


def formal_request_counts(
    query: MetricsQuery, *periods: tuple[datetime, datetime]
) -> tuple[int, ...]:
    """Citizens' messages that ingest marked as a formal request (inbox/formal_requests.py),
    per period, in one query over the partial index message_formal_request_idx. Counted
    directly, not rolled up: they are few, and the index holds exactly them."""
    messages = Message.objects.filter(
        direction=Message.Direction.INBOUND,
        sent_at__gte=min(start for start, _end in periods),
        sent_at__lt=max(end for _start, end in periods),
    ).exclude(formal_request_kinds=[])
    if query.channel_ids:
        messages = messages.filter(channel_id__in=query.channel_ids)
    if query.team_ids:
        messages = messages.filter(conversation__team_id__in=query.team_ids)
    counts = messages.aggregate(
        **{
            f"period_{number}": Count("id", filter=_in_period("sent_at", start, end))
            for number, (start, end) in enumerate(periods)
        }
    )
    return tuple(counts[f"period_{number}"] for number in range(len(periods)))


def backlog_at(query: MetricsQuery, moment: datetime) -> int:
    """Waits running at `moment`: started before it, ended after it or still going."""
    return (
        _filtered(WaitFact.objects.filter(started_at__lt=moment), query)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=moment))
        .count()
    )


@metrics_table("summary")
def summary_table(query: MetricsQuery) -> MetricsTable:
    """Key figures of the period (first row) and of the previous period of equal length."""
    norms = active_norms()
    previous = query.previous()
    rows = [
        _summary_row(query, query.start, query.end, norms),
        _summary_row(query, previous.start, previous.end, norms),
    ]
    rows[0]["formal_requests"], rows[1]["formal_requests"] = formal_request_counts(
        query, (query.start, query.end), (previous.start, previous.end)
    )
    return MetricsTable(
        slug="summary",
        title=_("Key figures, compared with the previous period"),
        columns=SUMMARY_COLUMNS,
        rows=rows,
        definition_anchor="#key-figures",
    )


# --- grouped tables ---------------------------------------------------------------------


def _merge(
    query: MetricsQuery, sources: list[dict[Any, dict[str, Any]]], columns: list[Column]
) -> list[dict[str, Any]]:
    keys: set[Any] = set()
    for source in sources:
        keys.update(source)
    labels = _group_labels(query.group_by, keys)
    rows = []
    for key in keys:
        row: dict[str, Any] = {column.key: None for column in columns}
        for source in sources:
            row.update(source.get(key, {}))
        row["group"] = labels.get(key, str(key))
        row["group_id"] = key
        rows.append(row)
    rows.sort(key=lambda row: (row["group_id"] is None, str(row["group"]).lower()))
    for row in rows:
        del row["group_id"]
    return rows


def _volume_by_group(query: MetricsQuery) -> dict[Any, dict[str, Any]]:
    start, end = query.start, query.end
    group_by = query.group_by
    result: dict[Any, dict[str, Any]] = {}
    if group_by in ("none", "channel", "team"):
        rows = _grouped(
            _filtered(MetricsHour.objects.filter(_in_period("hour", start, end)), query),
            {"none": None, "channel": "channel_id", "team": "team_id"}[group_by],
        ).annotate(
            messages_in=Sum("messages_in"),
            messages_answered=Sum("messages_answered"),
            replies_sent=Sum("replies_sent"),
            cycles_started=Sum("cycles_started"),
            cycles_resolved=Sum("cycles_resolved"),
        )
        for row in rows:
            result[row["group"]] = {
                "messages_in": row["messages_in"],
                "replies_sent": row["replies_sent"],
                "cycles_started": row["cycles_started"],
                "cycles_resolved": row["cycles_resolved"],
                "reply_rate": _ratio(row["messages_answered"], row["messages_in"]),
            }
    elif group_by == "agent":
        rows = (
            _filtered(
                MetricsAgentHour.objects.filter(_in_period("hour", start, end)),
                query,
                has_team=False,
            )
            .filter(_agent_filter(query))
            .annotate(group=F("agent_id"))
            .values("group")
            .annotate(replies_sent=Sum("replies_sent"), cycles_resolved=Sum("cycles_resolved"))
        )
        for row in rows:
            result[row["group"]] = {
                "replies_sent": row["replies_sent"],
                "cycles_resolved": row["cycles_resolved"],
            }
    elif group_by == "tag":
        rows = (
            _filtered(
                MetricsTagHour.objects.filter(_in_period("hour", start, end)), query, has_team=False
            )
            .annotate(group=F("tag_id"))
            .values("group")
            .annotate(messages_in=Sum("messages_in"), cycles_started=Sum("cycles_started"))
        )
        for row in rows:
            result[row["group"]] = {
                "messages_in": row["messages_in"],
                "cycles_started": row["cycles_started"],
            }
    return result


VOLUME_COLUMNS = [
    Column("messages_in", _("Messages in")),
    Column("replies_sent", _("Replies out")),
    Column("cycles_started", _("Conversations opened")),
    Column("cycles_resolved", _("Conversations resolved")),
    Column("reply_rate", _("Reply rate"), "percent", _("Share of citizen messages answered")),
]


@metrics_table("volume")
def volume_table(query: MetricsQuery) -> MetricsTable:
    """Counts per group: messages in, replies out, conversations opened and resolved."""
    columns = [_group_column(query), *VOLUME_COLUMNS]
    rows = _merge(query, [_volume_by_group(query)], columns)
    total = None
    if query.group_by != "none" and query.group_by in ("channel", "team"):
        total = _volume_total(query)
    return MetricsTable(
        slug="volume",
        title=_("Volume"),
        columns=columns,
        rows=rows,
        definition_anchor="#counts",
        total=total,
    )


def _volume_total(query: MetricsQuery) -> dict[str, Any]:
    totals = _filtered(
        MetricsHour.objects.filter(_in_period("hour", query.start, query.end)), query
    ).aggregate(
        messages_in=Sum("messages_in"),
        messages_answered=Sum("messages_answered"),
        replies_sent=Sum("replies_sent"),
        cycles_started=Sum("cycles_started"),
        cycles_resolved=Sum("cycles_resolved"),
    )
    return {
        "group": str(_("Total")),
        "messages_in": totals["messages_in"] or 0,
        "replies_sent": totals["replies_sent"] or 0,
        "cycles_started": totals["cycles_started"] or 0,
        "cycles_resolved": totals["cycles_resolved"] or 0,
        "reply_rate": _ratio(totals["messages_answered"], totals["messages_in"]),
    }


RESPONSE_COLUMNS = [
    Column("first_responses", _("First responses")),
    *FIRST_RESPONSE_TIME_COLUMNS,
    Column("first_response_within_norm", _("First responses within norm"), "percent"),
    Column("next_response_median_working", _("Next response, median (working time)"), "seconds"),
    Column("next_response_within_norm", _("Next responses within norm"), "percent"),
    Column("handling_median_working", _("Handling time, median (working time)"), "seconds"),
]


@metrics_table("response-times")
def response_times_table(query: MetricsQuery) -> MetricsTable:
    """Response times per group: percentiles in working and calendar time, % within norm."""
    norms = active_norms()
    start, end = query.start, query.end
    _first_norm, first_met = _first_response_cases(norms)
    first = {
        row["group"]: {
            "first_responses": row["first_responses"],
            "first_response_median_working": row["median_working"],
            "first_response_p90_working": row["p90_working"],
            "first_response_median_calendar": row["median_calendar"],
            "first_response_p90_calendar": row["p90_calendar"],
            "first_response_within_norm": _ratio(row["met"], row["measured"]),
        }
        for row in _grouped(_first_responses(query, start, end), _CYCLE_GROUP[query.group_by])
        .annotate(
            first_responses=Count("id"),
            median_working=PercentileCont("first_response_working_seconds", percentile=0.5),
            p90_working=PercentileCont("first_response_working_seconds", percentile=0.9),
            median_calendar=PercentileCont("first_response_calendar_seconds", percentile=0.5),
            p90_calendar=PercentileCont("first_response_calendar_seconds", percentile=0.9),
            met=Sum(first_met),
            measured=Count(first_met),
        )
        .order_by()
    }
    _next_norm, next_met = _next_response_cases(norms)
    answered = _filtered(
        WaitFact.objects.filter(
            _in_period("ended_at", start, end), outcome=WaitFact.Outcome.ANSWERED
        ),
        query,
    )
    following = {
        row["group"]: {
            "next_response_median_working": row["next_median"],
            "next_response_within_norm": _ratio(row["met"], row["measured"]),
            "handling_median_working": row["handling_median"],
        }
        for row in _grouped(answered, _WAIT_GROUP[query.group_by])
        .annotate(
            next_median=PercentileCont(
                "working_seconds", percentile=0.5, filter=Q(is_first_in_cycle=False)
            ),
            handling_median=PercentileCont("handling_working_seconds", percentile=0.5),
            met=Sum(next_met, filter=Q(is_first_in_cycle=False)),
            measured=Count(next_met, filter=Q(is_first_in_cycle=False)),
        )
        .order_by()
    }
    columns = [_group_column(query), *RESPONSE_COLUMNS]
    return MetricsTable(
        slug="response-times",
        title=_("Response times"),
        columns=columns,
        rows=_merge(query, [first, following], columns),
        definition_anchor="#per-group-volume-response-times-agents",
    )


AGENT_COLUMNS = [
    Column("agent", _("Agent"), kind="text"),
    Column("replies_sent", _("Replies out")),
    Column("cycles_resolved", _("Conversations resolved")),
    Column("responses", _("Waits answered")),
    Column("first_response_median_working", _("First response, median (working time)"), "seconds"),
    Column("handling_median_working", _("Handling time, median (working time)"), "seconds"),
    Column("handling_median_calendar", _("Handling time, median (calendar time)"), "seconds"),
]


@metrics_table("agents")
def agents_table(query: MetricsQuery) -> MetricsTable:
    """Per agent: replies, resolutions and handling time (from the responder's assignment, or
    the wait's start if later, to the reply)."""
    start, end = query.start, query.end
    rollup = {
        row["agent_id"]: row
        for row in _filtered(
            MetricsAgentHour.objects.filter(_in_period("hour", start, end)), query, has_team=False
        )
        .filter(_agent_filter(query))
        .values("agent_id")
        .annotate(replies_sent=Sum("replies_sent"), cycles_resolved=Sum("cycles_resolved"))
        .order_by()
    }
    waits = {
        row["responder_id"]: row
        for row in _filtered(
            WaitFact.objects.filter(
                _in_period("ended_at", start, end),
                outcome=WaitFact.Outcome.ANSWERED,
                responder_id__isnull=False,
            ),
            query,
        )
        .values("responder_id")
        .annotate(
            responses=Count("id"),
            first_median=PercentileCont(
                "working_seconds", percentile=0.5, filter=Q(is_first_in_cycle=True)
            ),
            handling_working=PercentileCont("handling_working_seconds", percentile=0.5),
            handling_calendar=PercentileCont("handling_calendar_seconds", percentile=0.5),
        )
        .order_by()
    }
    labels = _group_labels("agent", set(rollup) | set(waits))
    rows = []
    for agent_id in set(rollup) | set(waits):
        counts, wait = rollup.get(agent_id, {}), waits.get(agent_id, {})
        rows.append(
            {
                "agent": labels.get(agent_id, str(agent_id)),
                "replies_sent": counts.get("replies_sent", 0),
                "cycles_resolved": counts.get("cycles_resolved", 0),
                "responses": wait.get("responses", 0),
                "first_response_median_working": wait.get("first_median"),
                "handling_median_working": wait.get("handling_working"),
                "handling_median_calendar": wait.get("handling_calendar"),
            }
        )
    rows.sort(key=lambda row: str(row["agent"]).lower())
    return MetricsTable(
        slug="agents",
        title=_("Agents"),
        columns=AGENT_COLUMNS,
        rows=rows,
        definition_anchor="#per-group-volume-response-times-agents",
    )


# --- service norms ------------------------------------------------------------------------


def _norm_sources(
    query: MetricsQuery, norms: list[Norm]
) -> list[tuple[str, QuerySet, Expression, Expression, str]]:
    """(metric, facts measured in the period, norm case, met case, when-field) per metric."""
    start, end = query.start, query.end
    return [
        (
            "first_response",
            _first_responses(query, start, end),
            *_first_response_cases(norms),
            "first_response_at",
        ),
        (
            "next_response",
            _next_responses(query, start, end),
            *_next_response_cases(norms),
            "ended_at",
        ),
        ("resolution", _resolutions(query, start, end), *_resolution_cases(norms), "resolved_at"),
    ]


NORM_COLUMNS = [
    Column("norm", _("Service norm"), kind="text"),
    Column("measured", _("Measured")),
    Column("met", _("Met")),
    Column("breached", _("Breached")),
    Column("met_share", _("Met (%)"), "percent"),
]


@metrics_table("norms")
def norms_table(query: MetricsQuery) -> MetricsTable:
    """Per active norm: how many responses (or resolutions) of the period it measured, met
    and breached."""
    norms = active_norms()
    counts: dict[int, dict[str, int]] = {}
    for metric, facts, norm_case, met_case, _when in _norm_sources(query, norms):
        if not any(norm.metric == metric for norm in norms):
            continue
        for row in (
            facts.annotate(norm_id=norm_case, norm_met=met_case)
            .filter(norm_id__isnull=False)
            .values("norm_id")
            .annotate(measured=Count("id"), met=Sum("norm_met"))
            .order_by()
        ):
            counts[row["norm_id"]] = {"measured": row["measured"], "met": row["met"] or 0}
    rows = []
    for norm in norms:
        measured = counts.get(norm.id, {}).get("measured", 0)
        met = counts.get(norm.id, {}).get("met", 0)
        rows.append(
            {
                "norm": norm.name,
                "measured": measured,
                "met": met,
                "breached": measured - met,
                "met_share": _ratio(met, measured),
            }
        )
    return MetricsTable(
        slug="norms",
        title=_("Service norms"),
        columns=NORM_COLUMNS,
        rows=rows,
        definition_anchor="#service-norms",
    )


BREACH_COLUMNS = [
    Column("when", _("Responded or resolved"), kind="datetime"),
    Column("norm", _("Service norm"), kind="text"),
    Column("conversation", _("Conversation"), kind="int"),
    Column("measured_seconds", _("Took"), kind="seconds"),
    Column("target_seconds", _("Norm"), kind="seconds"),
]


@metrics_table("breaches")
def breaches_table(query: MetricsQuery) -> MetricsTable:
    """The most recent breaches of the period (at most 50), newest first."""
    norms = active_norms()
    by_id = {norm.id: norm for norm in norms}
    found: list[dict[str, Any]] = []
    measured_fields = {
        "first_response": ("first_response_working_seconds", "first_response_calendar_seconds"),
        "next_response": ("working_seconds", "calendar_seconds"),
        "resolution": ("resolution_working_seconds", "resolution_calendar_seconds"),
    }
    for metric, facts, norm_case, met_case, when in _norm_sources(query, norms):
        if not any(norm.metric == metric for norm in norms):
            continue
        working, calendar = measured_fields[metric]
        for row in (
            facts.annotate(norm_id=norm_case, norm_met=met_case)
            .filter(norm_met=0)
            .order_by(f"-{when}")
            .values("conversation_id", "norm_id", when, working, calendar)[:BREACH_LIST_LENGTH]
        ):
            norm = by_id[row["norm_id"]]
            found.append(
                {
                    "when": row[when],
                    "norm": norm.name,
                    "conversation": row["conversation_id"],
                    "measured_seconds": row[working] if norm.on_working_time else row[calendar],
                    "target_seconds": norm.target_seconds,
                }
            )
    found.sort(key=lambda row: row["when"], reverse=True)
    return MetricsTable(
        slug="breaches",
        title=_("Most recent breaches"),
        columns=BREACH_COLUMNS,
        rows=found[:BREACH_LIST_LENGTH],
        definition_anchor="#service-norms",
    )


# --- chart tables -------------------------------------------------------------------------


DISTRIBUTION_COLUMNS = [
    Column("bucket", _("First response within"), kind="text"),
    Column("working", _("Working time")),
    Column("calendar", _("Calendar time")),
]


def _bucket_counts(field_name: str, prefix: str) -> dict[str, Count]:
    aggregates: dict[str, Count] = {}
    lower = 0
    for key, _label, upper in DISTRIBUTION_BUCKETS:
        condition = Q(**{f"{field_name}__gte": lower})
        if upper is not None:
            condition &= Q(**{f"{field_name}__lt": upper})
            lower = upper
        aggregates[f"{prefix}{key}"] = Count("id", filter=condition)
    return aggregates


@metrics_table("response-times-distribution")
def distribution_table(query: MetricsQuery) -> MetricsTable:
    """First responses of the period per duration bucket, in working and in calendar time."""
    counts = _first_responses(query, query.start, query.end).aggregate(
        **_bucket_counts("first_response_working_seconds", "working_"),
        **_bucket_counts("first_response_calendar_seconds", "calendar_"),
    )
    rows = [
        {
            "bucket": str(label),
            "working": counts[f"working_{key}"],
            "calendar": counts[f"calendar_{key}"],
        }
        for key, label, _upper in DISTRIBUTION_BUCKETS
    ]
    return MetricsTable(
        slug="response-times-distribution",
        title=_("Distribution of first response times"),
        columns=DISTRIBUTION_COLUMNS,
        rows=rows,
        definition_anchor="#response-time-distribution",
    )


TREND_COLUMNS = [
    Column("day", _("Day"), kind="date"),
    Column("messages_in", _("Messages in")),
    Column("replies_sent", _("Replies out")),
    Column("first_response_median_working", _("First response, median (working time)"), "seconds"),
]


def _days(query: MetricsQuery) -> list[date]:
    first = query.start.astimezone(AMSTERDAM).date()
    last = (query.end.astimezone(AMSTERDAM) - timedelta(seconds=1)).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


@metrics_table("trend")
def trend_table(query: MetricsQuery) -> MetricsTable:
    """Per Amsterdam day: messages in, replies out, median first response."""
    counts = {
        row["day"]: row
        for row in _filtered(
            MetricsHour.objects.filter(_in_period("hour", query.start, query.end)), query
        )
        .annotate(day=TruncDate("hour", tzinfo=AMSTERDAM))
        .values("day")
        .annotate(messages_in=Sum("messages_in"), replies_sent=Sum("replies_sent"))
        .order_by()
    }
    medians = {
        row["day"]: row["median"]
        for row in _first_responses(query, query.start, query.end)
        .annotate(day=TruncDate("first_response_at", tzinfo=AMSTERDAM))
        .values("day")
        .annotate(median=PercentileCont("first_response_working_seconds", percentile=0.5))
        .order_by()
    }
    rows = [
        {
            "day": day,
            "messages_in": counts.get(day, {}).get("messages_in", 0),
            "replies_sent": counts.get(day, {}).get("replies_sent", 0),
            "first_response_median_working": medians.get(day),
        }
        for day in _days(query)
    ]
    return MetricsTable(
        slug="trend",
        title=_("Trend per day"),
        columns=TREND_COLUMNS,
        rows=rows,
        definition_anchor="#counts",
    )


@metrics_table("heatmap")
def heatmap_table(query: MetricsQuery) -> MetricsTable:
    """Citizen messages per weekday and hour of the day, Amsterdam time (one row per weekday,
    one column per hour)."""
    grid = [[0] * 24 for _weekday in range(7)]
    for row in (
        _filtered(MetricsHour.objects.filter(_in_period("hour", query.start, query.end)), query)
        .annotate(
            weekday=ExtractIsoWeekDay("hour", tzinfo=AMSTERDAM),
            local_hour=ExtractHour("hour", tzinfo=AMSTERDAM),
        )
        .values("weekday", "local_hour")
        .annotate(messages_in=Sum("messages_in"))
        .order_by()
    ):
        grid[row["weekday"] - 1][row["local_hour"]] += row["messages_in"]
    columns = [Column("weekday", _("Weekday"), kind="text")] + [
        Column(f"h{hour:02d}", f"{hour:02d}:00") for hour in range(24)
    ]
    rows = [
        {
            "weekday": str(WEEKDAYS[weekday]),
            **{f"h{hour:02d}": grid[weekday][hour] for hour in range(24)},
        }
        for weekday in range(7)
    ]
    return MetricsTable(
        slug="heatmap",
        title=_("Citizen messages per weekday and hour (Amsterdam time)"),
        columns=columns,
        rows=rows,
        definition_anchor="#heatmap",
    )


BACKLOG_COLUMNS = [
    Column("moment", _("At"), kind="datetime"),
    Column("waiting", _("Citizens waiting")),
]


@metrics_table("backlog")
def backlog_table(query: MetricsQuery) -> MetricsTable:
    """Citizens waiting at the end of each hour (periods up to two days) or day: the waits
    running at the period's start plus the waits started minus the waits ended since."""
    end = min(query.end, query.now)
    per_hour = (query.end - query.start) <= timedelta(days=2)
    # Amsterdam is a whole number of hours from UTC, so a UTC hour is an Amsterdam hour.
    step = F("hour") if per_hour else TruncDate("hour", tzinfo=AMSTERDAM)
    changes = {
        row["bucket"]: (row["started"] or 0) - (row["ended"] or 0)
        for row in _filtered(
            MetricsHour.objects.filter(_in_period("hour", query.start, end)), query
        )
        .annotate(bucket=step)
        .values("bucket")
        .annotate(started=Sum("waits_started"), ended=Sum("waits_ended"))
        .order_by()
    }
    waiting = backlog_at(query, query.start)
    rows = []
    if per_hour:
        moment = query.start
        while moment < end:
            waiting += changes.get(moment, 0)
            moment += timedelta(hours=1)
            rows.append({"moment": min(moment, end), "waiting": waiting})
    else:
        for day in _days(query):
            day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM)
            if day_end - timedelta(days=1) >= end:
                break
            waiting += changes.get(day, 0)
            rows.append({"moment": min(day_end.astimezone(UTC), end), "waiting": waiting})
    return MetricsTable(
        slug="backlog",
        title=_("Backlog over time"),
        columns=BACKLOG_COLUMNS,
        rows=rows,
        definition_anchor="#backlog-over-time",
    )


# --- the live "now" strip -----------------------------------------------------------------


@dataclass(frozen=True)
class WaitingConversation:
    conversation_id: int
    waiting_since: datetime
    deadline: datetime | None
    norm: str

    @property
    def url(self) -> str:
        # Only the few listed ones are linked: reversing a URL for every waiting
        # conversation cost more than their deadlines (bench/pages.py, dashboard).
        return reverse("inbox:conversation", args=[self.conversation_id])


@dataclass
class NowStrip:
    waiting: int = 0
    oldest: WaitingConversation | None = None
    agents_available: int = 0
    imminent: list[WaitingConversation] = field(default_factory=list)
    imminent_count: int = 0
    breached: list[WaitingConversation] = field(default_factory=list)
    breached_count: int = 0


def dashboard_now(query: MetricsQuery) -> NowStrip:
    """What is waiting right now: read from the conversations themselves (not the facts, which
    lag by up to a refresh), with each wait's norm deadline from its team's calendar.

    A waiting conversation whose cycle already had a response is measured against the next
    response norm, otherwise against the first response norm."""
    now = query.now
    waiting = _filtered(
        Conversation.objects.filter(status=Conversation.Status.OPEN, waiting_since__isnull=False),
        query,
    )
    rows = list(
        waiting.annotate(
            is_next=Exists(
                WaitFact.objects.filter(
                    conversation_id=OuterRef("id"),
                    outcome=WaitFact.Outcome.WAITING,
                    is_first_in_cycle=False,
                )
            )
        )
        .order_by("waiting_since", "id")
        .values_list(
            "id", "channel_id", "team_id", "is_private", "priority", "waiting_since", "is_next"
        )
    )
    agents = AgentProfile.objects.filter(presence=AgentProfile.Presence.AVAILABLE)
    if query.team_ids:
        agents = agents.filter(
            user_id__in=TeamMembership.objects.filter(team_id__in=query.team_ids).values("user_id")
        )
    strip = NowStrip(waiting=len(rows), agents_available=agents.count())
    if not rows:
        return strip
    norms = active_norms()
    calendars = calendars_for_teams({row[2] for row in rows})
    imminent: list[WaitingConversation] = []
    breached: list[WaitingConversation] = []
    for index, (
        conversation_id,
        channel_id,
        team_id,
        private,
        priority,
        since,
        is_next,
    ) in enumerate(rows):
        norm = norm_for(
            norms,
            metric="next_response" if is_next else "first_response",
            channel_id=channel_id,
            is_private=private,
            priority=priority,
        )
        deadline = norm.deadline(since, calendars[team_id]) if norm else None
        item = WaitingConversation(
            conversation_id=conversation_id,
            waiting_since=since,
            deadline=deadline,
            norm=norm.name if norm else "",
        )
        if index == 0:
            strip.oldest = item
        if deadline is None:
            continue
        if deadline <= now:
            breached.append(item)
        elif deadline <= now + IMMINENT:
            imminent.append(item)
    imminent.sort(key=lambda item: item.deadline or now)
    breached.sort(key=lambda item: item.deadline or now)
    strip.imminent, strip.imminent_count = imminent[:NOW_LIST_LENGTH], len(imminent)
    strip.breached, strip.breached_count = breached[:NOW_LIST_LENGTH], len(breached)
    return strip


# --- the filter form's choices ------------------------------------------------------------


def dashboard_filter_choices() -> dict[str, list[tuple[int, str]]]:
    return {
        "channels": list(Channel.objects.order_by("name").values_list("id", "name")),
        "teams": list(Team.objects.order_by("name").values_list("id", "name")),
    }


__all__ = [
    "NowStrip",
    "backlog_at",
    "dashboard_filter_choices",
    "dashboard_now",
]
