"""What retention would remove, and what the retention page shows (docs/architecture.md,
"Privacy and archiving"). inbox/services/privacy.py acts on the same candidates, so a dry
run's numbers are exactly what the real run then does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db.models import QuerySet

from channels.models import Channel
from inbox.metrics.working_time import AMSTERDAM
from inbox.models import RetentionPolicy, RetentionRun

__all__ = [
    "PolicyScope",
    "retention_candidate_ids",
    "retention_cutoff",
    "retention_policy_rows",
    "retention_runs_recent",
    "retention_scope_report",
    "retention_scopes",
]


@dataclass(frozen=True)
class PolicyScope:
    """One active policy and the channels it governs."""

    policy: RetentionPolicy
    channel: Channel


def retention_cutoff(now: datetime, months: int) -> datetime:
    """`months` calendar months before `now`, counted on the Amsterdam calendar (29 May
    minus 3 months is 28 Feb, or 29 Feb in a leap year); as an aware datetime."""
    return now.astimezone(AMSTERDAM) - relativedelta(months=months)


def retention_scopes() -> list[PolicyScope]:
    """Each channel with the policy that governs it: its own, else the default. A channel whose
    own policy is switched off is left alone; it does not fall back to the default, because an
    administrator switched it off for that channel on purpose."""
    policies = list(RetentionPolicy.objects.all())
    default = next((policy for policy in policies if policy.channel_id is None), None)
    own = {policy.channel_id: policy for policy in policies if policy.channel_id is not None}
    scopes = []
    for channel in Channel.objects.order_by("name", "id"):
        policy = own.get(channel.pk, default)
        if policy is not None and policy.is_active:
            scopes.append(PolicyScope(policy=policy, channel=channel))
    return scopes


# A conversation is due when it is resolved, and both its last resolution and its last
# activity lie before the cutoff: a conversation reopened and resolved again counts from its
# latest resolution. One without care cycles (merged away) counts from its last activity.
_DUE = """
    FROM inbox_conversation c
    LEFT JOIN LATERAL (
        SELECT max(cc.resolved_at) AS resolved_at FROM inbox_carecycle cc
        WHERE cc.conversation_id = c.id
    ) r ON true
    WHERE c.channel_id = %(channel)s AND c.status = 'resolved'
      AND greatest(r.resolved_at, c.last_activity_at) < %(cutoff)s
      AND (%(anonymise)s = false OR c.anonymised_at IS NULL)
"""
# Archived: a completed export holds it and was made after its last activity. Exports take a
# conversation by the Amsterdam date of its first citizen message, with everything it has at
# that moment (docs/archive-format.md), so an export of the right range that started after the
# last activity has all of it; one made before a later reply has not, and neither has the
# export of the next range.
_ARCHIVED = """EXISTS (
    SELECT 1 FROM inbox_archiveexport a
    WHERE a.status = 'completed'
      AND (c.first_inbound_at AT TIME ZONE 'Europe/Amsterdam')::date
          BETWEEN a.date_from AND a.date_to
      AND a.created_at >= c.last_activity_at
)"""


def _params(scope: PolicyScope, cutoff: datetime) -> dict:
    return {
        "channel": scope.channel.pk,
        "cutoff": cutoff,
        "anonymise": scope.policy.action == RetentionPolicy.Action.ANONYMISE,
    }


def _eligible(scope: PolicyScope) -> str:
    return _DUE + (f" AND {_ARCHIVED}" if scope.policy.require_archive else "")


def retention_candidate_ids(
    scope: PolicyScope,
    *,
    cutoff: datetime,
    limit: int,
    after_id: int = 0,
) -> list[int]:
    """The next `limit` conversations this policy removes, by id, after `after_id`."""
    params = _params(scope, cutoff) | {"limit": limit, "after": after_id}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id "
            + _eligible(scope)
            + " AND c.id > %(after)s ORDER BY c.id LIMIT %(limit)s",
            params,
        )
        return [conversation_id for (conversation_id,) in cursor.fetchall()]


def retention_scope_report(scope: PolicyScope, *, cutoff: datetime) -> dict[str, Any]:
    """What this policy removes from its channel now: counts, the oldest and newest last
    resolution, and how many due conversations are kept because no archive covers them."""
    params = _params(scope, cutoff)
    archived = f"({_ARCHIVED})" if scope.policy.require_archive else "true"
    resolved = "greatest(r.resolved_at, c.last_activity_at)"
    with_messages = _DUE.replace(
        ") r ON true",
        ") r ON true LEFT JOIN LATERAL (SELECT count(*) AS messages FROM inbox_message mm"
        " WHERE mm.conversation_id = c.id) m ON true",
    )
    # Only constant fragments are joined; every value is a parameter.
    sql = (
        f"SELECT count(*) FILTER (WHERE {archived}), count(*) FILTER (WHERE NOT {archived}),"
        f" coalesce(sum(m.messages) FILTER (WHERE {archived}), 0),"
        f" min({resolved}) FILTER (WHERE {archived}), max({resolved}) FILTER (WHERE {archived})"
        f" {with_messages}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        conversations, kept, messages, oldest, newest = cursor.fetchone()
    return {
        "policy_id": scope.policy.pk,
        "channel_id": scope.channel.pk,
        "channel": scope.channel.name,
        "action": scope.policy.action,
        "months": scope.policy.months_after_resolution,
        "require_archive": scope.policy.require_archive,
        "cutoff": cutoff.isoformat(),
        "conversations": conversations,
        "messages": int(messages),
        "kept_unarchived": kept,
        "oldest": oldest.isoformat() if oldest else None,
        "newest": newest.isoformat() if newest else None,
    }


def retention_policy_rows() -> list[dict[str, Any]]:
    """The default policy, then every channel with its own policy or "uses the default"."""
    policies = {policy.channel_id: policy for policy in RetentionPolicy.objects.all()}
    rows: list[dict[str, Any]] = [{"channel": None, "policy": policies.get(None)}]
    rows += [
        {"channel": channel, "policy": policies.get(channel.pk)}
        for channel in Channel.objects.order_by("name", "id")
    ]
    return rows


def retention_runs_recent(limit: int = 20) -> QuerySet[RetentionRun]:
    return RetentionRun.objects.select_related("started_by").order_by("-started_at")[:limit]
