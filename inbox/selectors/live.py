"""Live updates: "has anything changed since X?" and, when it has, what the agent should hear
about (docs/architecture.md, "Live updates").

The cursor is the newest AuditEvent id and the newest Message id. Every state change a
colleague or the system makes writes an AuditEvent in its own transaction (assignment,
transfer, status, snooze, priority, tags, notes and @mentions, merges, approvals, delivery
results, presence); a citizen's message in an existing conversation writes only its Message
row, hence the second id. Both are primary keys, so "anything new?" is two backward index
lookups in one query, whatever the size of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, Q

from inbox.models import AgentProfile, AuditEvent, Conversation, Message, TeamMembership

# At most this many new audit events and messages are read per answer; after a longer
# absence (a laptop woke up) the browser refreshes everything instead of a list of ids.
CHANGES_READ_LIMIT = 500

ASSIGNING_ACTIONS = ("conversation.assigned", "conversation.transferred")
MENTIONING_ACTION = "note.created"
# Changes that the "Team on duty" panel shows.
PRESENCE_ACTIONS = ("agent.presence_changed", "team.member_added", "team.member_removed")


@dataclass(frozen=True)
class LiveCursor:
    """Where the browser's picture of the inbox ends: "<audit event id>.<message id>"."""

    audit_event_id: int
    message_id: int

    def __str__(self) -> str:
        return f"{self.audit_event_id}.{self.message_id}"

    @classmethod
    def parse(cls, text: str) -> LiveCursor | None:
        """The cursor the browser sent back, or None when it sent none or nonsense."""
        audit_part, dot, message_part = text.partition(".")
        if not dot or not audit_part.isdigit() or not message_part.isdigit():
            return None
        return cls(audit_event_id=int(audit_part), message_id=int(message_part))


def live_cursor_current() -> LiveCursor:
    """The newest audit event and message ids, in one query of two index-only lookups.

    Raw SQL because the ORM cannot select two unrelated aggregates in one statement.
    """
    audit_table = connection.ops.quote_name(AuditEvent._meta.db_table)
    message_table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {audit_table}), (SELECT MAX(id) FROM {message_table})"  # noqa: S608 - table names from our own models
        )
        audit_event_id, message_id = cursor.fetchone()
    return LiveCursor(audit_event_id=audit_event_id or 0, message_id=message_id or 0)


@dataclass(frozen=True)
class LiveChanges:
    """What changed between two cursors, from one agent's point of view.

    `waiting_mine` + `waiting_queue` is the count in the tab title: conversations in which a
    citizen waits for our answer (open, `waiting_since` set) that are the agent's own or in
    the unassigned queue. The `new_*` counts are 0 for a first call without a cursor (the
    page was just rendered, nothing is news yet).
    """

    cursor: LiveCursor
    waiting_mine: int
    waiting_queue: int
    # Citizen messages that arrived in the agent's own or unassigned conversations.
    new_messages: int
    # Conversations a colleague or the assignment task gave to the agent.
    assigned_to_you: int
    # Notes by colleagues that name the agent (@username).
    new_mentions: int
    # Conversations with any change (message, assignment, status, note …); None: too many
    # changes to list, refresh everything.
    conversation_ids: list[int] | None
    # An agent's presence or a team's membership changed ("Team on duty").
    presence_changed: bool

    @property
    def waiting(self) -> int:
        return self.waiting_mine + self.waiting_queue

    def as_json(self) -> dict[str, Any]:
        return {
            "cursor": str(self.cursor),
            "waiting": self.waiting,
            "waiting_mine": self.waiting_mine,
            "waiting_queue": self.waiting_queue,
            "new_messages": self.new_messages,
            "assigned_to_you": self.assigned_to_you,
            "new_mentions": self.new_mentions,
            "conversation_ids": self.conversation_ids,
            "presence_changed": self.presence_changed,
        }


def live_waiting_counts(user: User) -> tuple[int, int]:
    """(the agent's own conversations awaiting an answer, the unassigned ones awaiting one),
    in one query over the two partial indexes of open conversations."""
    counts = Conversation.objects.filter(
        Q(assignee=user) | Q(assignee__isnull=True),
        status=Conversation.Status.OPEN,
        waiting_since__isnull=False,
    ).aggregate(
        mine=Count("id", filter=Q(assignee=user)),
        queue=Count("id", filter=Q(assignee__isnull=True)),
    )
    return counts["mine"], counts["queue"]


def live_changes_between(*, user: User, since: LiveCursor | None, until: LiveCursor) -> LiveChanges:
    """The changes after `since` up to and including `until` (the cursor just read, so that
    a row committed meanwhile is reported exactly once, by the next call). Four queries."""
    waiting_mine, waiting_queue = live_waiting_counts(user)
    if since is None:
        return LiveChanges(
            cursor=until,
            waiting_mine=waiting_mine,
            waiting_queue=waiting_queue,
            new_messages=0,
            assigned_to_you=0,
            new_mentions=0,
            conversation_ids=[],
            presence_changed=False,
        )

    events = list(
        AuditEvent.objects.filter(
            id__gt=since.audit_event_id, id__lte=until.audit_event_id
        ).values_list("action", "actor_id", "conversation_id", "data")[: CHANGES_READ_LIMIT + 1]
    )
    messages = list(
        Message.objects.filter(id__gt=since.message_id, id__lte=until.message_id).values_list(
            "conversation_id", "direction", "conversation__assignee_id"
        )[: CHANGES_READ_LIMIT + 1]
    )

    changed: set[int] = set()
    assigned_to_you = new_mentions = 0
    presence_changed = False
    for action, actor_id, conversation_id, data in events:
        if conversation_id is not None:
            changed.add(conversation_id)
        if action in PRESENCE_ACTIONS:
            presence_changed = True  # the agent's own, too: they are in the panel
        if actor_id == user.pk:
            continue  # the agent's own doing is no news to them
        data = data if isinstance(data, dict) else {}
        if action in ASSIGNING_ACTIONS and data.get("assignee_id") == user.pk:
            assigned_to_you += 1
        elif action == MENTIONING_ACTION and user.pk in (data.get("mentioned_ids") or []):
            new_mentions += 1

    new_messages = 0
    for conversation_id, direction, assignee_id in messages:
        changed.add(conversation_id)
        if direction == Message.Direction.INBOUND and assignee_id in (None, user.pk):
            new_messages += 1

    too_many = len(events) > CHANGES_READ_LIMIT or len(messages) > CHANGES_READ_LIMIT
    return LiveChanges(
        cursor=until,
        waiting_mine=waiting_mine,
        waiting_queue=waiting_queue,
        new_messages=new_messages,
        assigned_to_you=assigned_to_you,
        new_mentions=new_mentions,
        conversation_ids=None if too_many else sorted(changed),
        presence_changed=presence_changed or too_many,
    )


# --- "Team on duty" -------------------------------------------------------------------------

PRESENCE_ORDER: dict[str, int] = {
    AgentProfile.Presence.AVAILABLE: 0,
    AgentProfile.Presence.AWAY: 1,
    AgentProfile.Presence.OFFLINE: 2,
}


@dataclass(frozen=True)
class TeamPresence:
    """The colleagues of the agent's teams (everyone on the webcare team when the agent is
    in no team), available first, then away, then offline, each by name."""

    agents: list[AgentProfile]
    available: int
    away: int
    offline: int


def team_presence_for(user: User) -> TeamPresence:
    """One query (two when the agent is in no team)."""
    profiles = AgentProfile.objects.filter(user__is_active=True).select_related("user")
    own_teams = TeamMembership.objects.filter(user=user).values("team_id")
    agents = list(profiles.filter(user__team_memberships__team_id__in=own_teams).distinct())
    if not agents:
        agents = list(profiles)
    agents.sort(
        key=lambda profile: (
            PRESENCE_ORDER.get(profile.presence, len(PRESENCE_ORDER)),
            (profile.user.get_full_name() or profile.user.username).casefold(),
        )
    )
    presences = [profile.presence for profile in agents]
    return TeamPresence(
        agents=agents,
        available=presences.count(AgentProfile.Presence.AVAILABLE),
        away=presences.count(AgentProfile.Presence.AWAY),
        offline=presences.count(AgentProfile.Presence.OFFLINE),
    )
