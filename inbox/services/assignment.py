"""Who handles which conversation: presence, automatic assignment, take / transfer /
unassign (docs/architecture.md, "Assignment engine").

Audit events that move a conversation between people all carry the new assignee as
`assignee_id` (or None) and the one before as `previous_assignee_id`; stickiness reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.models import AgentProfile, AuditEvent, Conversation, Team, TeamMembership
from inbox.services.common import (
    ServiceError,
    audit,
    metrics_mark_changed,
    task_send_on_commit,
)

__all__ = [
    "ASSIGNMENT_BATCH_SIZE",
    "agent_is_available",
    "agent_record_seen",
    "agent_set_presence",
    "agent_update_settings",
    "agents_mark_inactive_away",
    "conversation_take",
    "conversation_transfer",
    "conversation_unassign",
    "conversations_assign_waiting",
    "enqueue_assignment",
    "staff_profile_or_denied",
    "team_lead_or_denied",
]

logger = logging.getLogger(__name__)

# How many waiting conversations one assignment run hands out; a full batch enqueues the
# next run, and the periodic sweep picks up anything left.
ASSIGNMENT_BATCH_SIZE = 200

# Audit actions that move a conversation between people (see the module docstring).
HANDOVER_ACTIONS = ("conversation.assigned", "conversation.transferred", "conversation.unassigned")
# Unassignments the agent chose: assignment does not hand the conversation straight back
# to them, and stickiness does not count them as its handler.
DELIBERATE_RELEASES = {"manual", "transferred_to_team"}

# The most open conversations a team lead can set as an agent's capacity.
MAX_CAPACITY = 99

# last_seen_at is written at most once per this interval per agent (middleware, API).
SEEN_WRITE_INTERVAL = timedelta(minutes=1)


# --- who may ---------------------------------------------------------------------------


def staff_profile_or_denied(actor: User) -> AgentProfile:
    """The actor's profile; PermissionDenied for people outside the webcare team."""
    profile = AgentProfile.objects.filter(user=actor, user__is_active=True).first()
    if profile is None:
        raise PermissionDenied(_("Your account is not part of the webcare team."))
    return profile


def team_lead_or_denied(actor: User, refusal: str | None = None) -> AgentProfile:
    """The team lead's profile; PermissionDenied with `refusal` (or a general message)
    for anyone else."""
    profile = staff_profile_or_denied(actor)
    if not profile.is_team_lead:
        raise PermissionDenied(refusal or _("Only team leads can do this."))
    return profile


def enqueue_assignment() -> None:
    """Run the assignment task once the current transaction has committed."""
    from inbox.tasks import assign_waiting

    task_send_on_commit(assign_waiting, otherwise="beat's run every minute")


def agent_is_available(user_id: int) -> bool:
    return AgentProfile.objects.filter(
        user_id=user_id, presence=AgentProfile.Presence.AVAILABLE, user__is_active=True
    ).exists()


# --- automatic assignment --------------------------------------------------------------


@dataclass
class _Candidate:
    """An available agent during one assignment run."""

    profile: AgentProfile
    free: int
    teams: set[int] = field(default_factory=set)

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    @property
    def is_team_lead(self) -> bool:
        return self.profile.is_team_lead

    def serves(self, team_id: int | None) -> bool:
        # Team leads are staff too, but only take conversations of teams they are in.
        if team_id is None:
            return not self.is_team_lead
        return team_id in self.teams

    def round_robin_key(self) -> tuple[datetime, int]:
        never = datetime.min.replace(tzinfo=UTC)
        return (self.profile.last_assigned_at or never, self.profile.pk)


@dataclass(frozen=True)
class _History:
    """What earlier assignments say about a waiting conversation."""

    # The agent who most recently handled this citizen within WEBCARE_STICKY_DAYS.
    sticky_user_id: int | None
    # The agent who gave this very conversation back on purpose: never handed it again.
    released_by_id: int | None


def _handler_from_event(action: str, data: dict) -> int | None:
    """Who handled a currently unassigned conversation, judged by its latest handover."""
    if action == "conversation.unassigned" and data.get("reason") not in DELIBERATE_RELEASES:
        return data.get("previous_assignee_id")
    if action in {"conversation.assigned", "conversation.transferred"}:
        return data.get("assignee_id")
    return None


def _released_by(action: str, data: dict) -> int | None:
    if data.get("reason") in DELIBERATE_RELEASES:
        return data.get("previous_assignee_id")
    return None


def _histories(waiting: list[Conversation], now: datetime) -> dict[int, _History]:
    """Stickiness for a batch in two queries.

    "Handled" means: was the assignee of a conversation of the same contact (this one or
    another) whose last activity lies within WEBCARE_STICKY_DAYS. A conversation that still
    has its assignee names them; one that was unassigned names the agent of its latest
    handover audit event (an agent who went offline still counts; one who gave the
    conversation back on purpose does not). The most recently active conversation with a
    handler wins.
    """
    cutoff = now - timedelta(days=settings.WEBCARE_STICKY_DAYS)
    recent = list(
        Conversation.objects.filter(
            contact_id__in={conversation.contact_id for conversation in waiting},
            last_activity_at__gte=cutoff,
        )
        .order_by("-last_activity_at", "-id")
        .values_list("id", "contact_id", "assignee_id")
    )
    unassigned_ids = {conversation_id for conversation_id, _c, assignee in recent if not assignee}
    unassigned_ids |= {conversation.id for conversation in waiting}
    latest_handover = {
        event["conversation_id"]: (event["action"], event["data"])
        for event in AuditEvent.objects.filter(
            conversation_id__in=unassigned_ids, action__in=HANDOVER_ACTIONS
        )
        .order_by("conversation_id", "-id")
        .distinct("conversation_id")
        .values("conversation_id", "action", "data")
    }
    handler_by_contact: dict[int, int] = {}
    for conversation_id, contact_id, assignee_id in recent:
        if contact_id in handler_by_contact:
            continue
        handler = assignee_id
        if handler is None and conversation_id in latest_handover:
            handler = _handler_from_event(*latest_handover[conversation_id])
        if handler is not None:
            handler_by_contact[contact_id] = handler
    histories = {}
    for conversation in waiting:
        released = None
        if conversation.id in latest_handover:
            released = _released_by(*latest_handover[conversation.id])
        histories[conversation.id] = _History(
            sticky_user_id=handler_by_contact.get(conversation.contact_id),
            released_by_id=released,
        )
    return histories


def _available_candidates() -> list[_Candidate]:
    """Available, active agents with their free capacity and teams, their profile rows
    locked in id order so that concurrent runs (and presence changes) take turns."""
    profiles = list(
        AgentProfile.objects.select_for_update(of=("self",))
        .filter(presence=AgentProfile.Presence.AVAILABLE, user__is_active=True)
        .order_by("id")
    )
    if not profiles:
        return []
    user_ids = [profile.user_id for profile in profiles]
    load = dict(
        Conversation.objects.filter(status=Conversation.Status.OPEN, assignee_id__in=user_ids)
        .values("assignee_id")
        .annotate(open_count=Count("id"))
        .values_list("assignee_id", "open_count")
    )
    candidates = {
        profile.user_id: _Candidate(profile, free=profile.capacity - load.get(profile.user_id, 0))
        for profile in profiles
    }
    for team_id, user_id in TeamMembership.objects.filter(user_id__in=user_ids).values_list(
        "team_id", "user_id"
    ):
        candidates[user_id].teams.add(team_id)
    return list(candidates.values())


def _pick(
    candidates: list[_Candidate], conversation: Conversation, history: _History
) -> tuple[_Candidate, str] | None:
    eligible = [
        candidate
        for candidate in candidates
        if candidate.free > 0
        and candidate.serves(conversation.team_id)
        and candidate.user_id != history.released_by_id
    ]
    if not eligible:
        return None
    for candidate in eligible:
        if candidate.user_id == history.sticky_user_id:
            return candidate, "sticky"
    most_free = max(candidate.free for candidate in eligible)
    tied = [candidate for candidate in eligible if candidate.free == most_free]
    chosen = min(tied, key=_Candidate.round_robin_key)
    return chosen, "round_robin" if len(tied) > 1 else "capacity"


_ASSIGN_CONVERSATIONS = f"""
    UPDATE {Conversation._meta.db_table} AS conversation
    SET assignee_id = batch.assignee_id, assigned_at = %s
    FROM unnest(%s::bigint[], %s::integer[]) AS batch (id, assignee_id)
    WHERE conversation.id = batch.id
"""  # noqa: S608 - table names from the models, values as parameters
_MARK_ASSIGNED_AT = f"""
    UPDATE {AgentProfile._meta.db_table} AS profile
    SET last_assigned_at = batch.last_assigned_at
    FROM unnest(%s::bigint[], %s::timestamptz[]) AS batch (id, last_assigned_at)
    WHERE profile.id = batch.id
"""  # noqa: S608


def _write_assignments(
    conversations: list[Conversation], profiles: Iterable[AgentProfile], now: datetime
) -> None:
    """The batch's new assignees and the agents' round-robin marks, one UPDATE each joined
    to arrays. Django's bulk_update spells the same as a CASE WHEN per row and field, and
    building those expressions took 0.5 s of a 0.75 s run of 200 (docs/performance.md,
    "Assignment")."""
    profiles = list(profiles)
    with connection.cursor() as cursor:
        cursor.execute(
            _ASSIGN_CONVERSATIONS,
            [
                now,
                [conversation.id for conversation in conversations],
                [conversation.assignee_id for conversation in conversations],
            ],
        )
        cursor.execute(
            _MARK_ASSIGNED_AT,
            [
                [profile.pk for profile in profiles],
                [profile.last_assigned_at for profile in profiles],
            ],
        )


@transaction.atomic
def conversations_assign_waiting() -> int:
    """Hand waiting, unassigned conversations to available agents (docs/architecture.md,
    "Assignment engine"): the most urgent, then the longest waiting first; each to the
    agent who handled the citizen recently (sticky), else to the team member with the most
    free capacity, ties to the one assigned to least recently (round robin).

    Agent rows are locked, not skipped, so concurrent runs serialize their bookkeeping;
    conversation rows are locked with SKIP LOCKED, so one that an agent is taking right now
    (or that ingest is updating) is left for the next run and never assigned twice.
    The query count does not grow with the batch.
    """
    now = timezone.now()
    candidates = _available_candidates()
    with_room = [candidate for candidate in candidates if candidate.free > 0]
    if not with_room:
        return 0
    # Only conversations someone can take, so a team nobody serves cannot starve the rest.
    servable = Q(team_id__in={team for candidate in with_room for team in candidate.teams})
    if any(candidate.serves(None) for candidate in with_room):
        servable |= Q(team__isnull=True)
    waiting = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            servable,
            status=Conversation.Status.OPEN,
            assignee__isnull=True,
            waiting_since__isnull=False,
            merged_into__isnull=True,
        )
        .order_by("-priority", "waiting_since", "id")[:ASSIGNMENT_BATCH_SIZE]
    )
    if not waiting:
        return 0
    histories = _histories(waiting, now)
    assigned: list[Conversation] = []
    events: list[AuditEvent] = []
    touched: dict[int, AgentProfile] = {}
    # A citizen who opened several conversations at once: the agent who got the first one
    # in this run is now their handler, so the others follow (sticky).
    handled_in_this_run: dict[int, int] = {}
    for conversation in waiting:
        history = histories[conversation.id]
        if conversation.contact_id in handled_in_this_run:
            history = replace(history, sticky_user_id=handled_in_this_run[conversation.contact_id])
        picked = _pick(candidates, conversation, history)
        if picked is None:
            continue
        candidate, reason = picked
        handled_in_this_run[conversation.contact_id] = candidate.user_id
        candidate.free -= 1
        # Microsecond steps keep the round-robin order exact within one run.
        candidate.profile.last_assigned_at = now + timedelta(microseconds=len(assigned))
        touched[candidate.profile.pk] = candidate.profile
        conversation.assignee_id = candidate.user_id
        conversation.assigned_at = now
        assigned.append(conversation)
        events.append(
            AuditEvent(
                action="conversation.assigned",
                conversation_id=conversation.id,
                data={
                    "assignee_id": candidate.user_id,
                    "previous_assignee_id": None,
                    "team_id": conversation.team_id,
                    "reason": reason,
                },
            )
        )
    if not assigned:
        return 0
    # One statement each for the whole batch (the rows are locked by this transaction);
    # the audit rows are the same as `audit()` writes.
    _write_assignments(assigned, touched.values(), now)
    AuditEvent.objects.bulk_create(events)
    metrics_mark_changed(conversation.id for conversation in assigned)
    if len(waiting) == ASSIGNMENT_BATCH_SIZE:
        enqueue_assignment()
    return len(assigned)


# --- manual ----------------------------------------------------------------------------


@transaction.atomic
def conversation_take(*, conversation_id: int, actor: User) -> Conversation:
    """An agent takes an unassigned conversation from the queue.

    A conditional update: of two agents (or an agent and the assignment task) only one
    gets the row; the other sees 0 rows updated.
    """
    staff_profile_or_denied(actor)
    updated = Conversation.objects.filter(id=conversation_id, assignee__isnull=True).update(
        assignee=actor, assigned_at=timezone.now()
    )
    conversation = Conversation.objects.get(id=conversation_id)
    if not updated:
        if conversation.assignee_id == actor.pk:
            return conversation
        raise ServiceError(_("A colleague has this conversation already."))
    audit(
        "conversation.assigned",
        actor=actor,
        conversation_id=conversation.id,
        assignee_id=actor.pk,
        previous_assignee_id=None,
        team_id=conversation.team_id,
        reason="taken",
    )
    return conversation


def _may_hand_over(profile: AgentProfile, conversation: Conversation) -> bool:
    """The assignee, a team lead, or anyone for a conversation still in the queue (sorting
    the queue is everyone's job). A colleague's conversation is theirs or a team lead's."""
    return (
        profile.is_team_lead
        or conversation.assignee_id is None
        or conversation.assignee_id == profile.user_id
    )


@transaction.atomic
def conversation_transfer(
    *,
    conversation_id: int,
    actor: User,
    to_user_id: int | None = None,
    to_team_id: int | None = None,
    note: str = "",
) -> Conversation:
    """Hand a conversation to a colleague (assigned to them at once, even when they are
    away: the caller tells the actor) or to a team (unassigned, then assigned among the
    team's members). Both at once: the colleague, in that team. A note becomes an internal
    note on the conversation."""
    profile = staff_profile_or_denied(actor)
    if to_user_id is None and to_team_id is None:
        raise ServiceError(_("Choose a colleague or a team to transfer to."))
    conversation = Conversation.objects.select_for_update().get(id=conversation_id)
    if not _may_hand_over(profile, conversation):
        raise PermissionDenied(
            _("Only the assignee or a team lead can transfer this conversation.")
        )
    team = None
    if to_team_id is not None:
        team = Team.objects.filter(id=to_team_id).first()
        if team is None:
            raise ServiceError(_("This team does not exist."))
    recipient = None
    if to_user_id is not None:
        recipient = AgentProfile.objects.filter(user_id=to_user_id, user__is_active=True).first()
        if recipient is None:
            raise ServiceError(_("You can only transfer to an active member of the team."))
    new_assignee_id = recipient.user_id if recipient is not None else None
    new_team_id = team.pk if team is not None else conversation.team_id
    if new_assignee_id == conversation.assignee_id and new_team_id == conversation.team_id:
        raise ServiceError(_("The conversation is there already."))

    previous_assignee_id, previous_team_id = conversation.assignee_id, conversation.team_id
    conversation.assignee_id = new_assignee_id
    conversation.assigned_at = timezone.now() if new_assignee_id is not None else None
    conversation.team_id = new_team_id
    conversation.save(update_fields=["assignee", "assigned_at", "team"])
    note_id = None
    if note.strip():
        from inbox.services.lifecycle import note_create

        note_id = note_create(conversation_id=conversation.id, actor=actor, text=note.strip()).pk
    audit(
        "conversation.transferred",
        actor=actor,
        conversation_id=conversation.id,
        assignee_id=new_assignee_id,
        previous_assignee_id=previous_assignee_id,
        team_id=new_team_id,
        previous_team_id=previous_team_id,
        note_id=note_id,
        reason="transferred" if new_assignee_id is not None else "transferred_to_team",
    )
    if new_assignee_id is None:
        enqueue_assignment()
    return conversation


@transaction.atomic
def conversation_unassign(*, conversation_id: int, actor: User) -> Conversation:
    """Back to the queue. Assignment will not hand it straight back to the same agent."""
    profile = staff_profile_or_denied(actor)
    conversation = Conversation.objects.select_for_update().get(id=conversation_id)
    if conversation.assignee_id is None:
        raise ServiceError(_("This conversation is not assigned to anyone."))
    if not _may_hand_over(profile, conversation):
        raise PermissionDenied(
            _("Only the assignee or a team lead can unassign this conversation.")
        )
    previous_assignee_id = conversation.assignee_id
    conversation.assignee = None
    conversation.assigned_at = None
    conversation.save(update_fields=["assignee", "assigned_at"])
    audit(
        "conversation.unassigned",
        actor=actor,
        conversation_id=conversation.id,
        assignee_id=None,
        previous_assignee_id=previous_assignee_id,
        team_id=conversation.team_id,
        reason="manual",
    )
    enqueue_assignment()
    return conversation


# --- presence and capacity --------------------------------------------------------------


@transaction.atomic
def agent_set_presence(*, actor: User, presence: str) -> AgentProfile:
    """Available agents get new conversations; away agents keep theirs and get none;
    offline agents give their unanswered conversations back to the queue."""
    if presence not in AgentProfile.Presence.values:
        raise ServiceError(_("Unknown presence: %(presence)s.") % {"presence": presence})
    profile = AgentProfile.objects.select_for_update().get(user=actor)
    if profile.presence == presence:
        return profile
    previous = profile.presence
    now = timezone.now()
    profile.presence = presence
    profile.presence_changed_at = now
    update_fields = ["presence", "presence_changed_at"]
    if presence == AgentProfile.Presence.AVAILABLE:
        # Choosing "available" is being here: the presence sweep must not undo it at once.
        profile.last_seen_at = now
        update_fields.append("last_seen_at")
    profile.save(update_fields=update_fields)
    audit(
        "agent.presence_changed",
        actor=actor,
        user_id=actor.pk,
        previous=previous,
        presence=presence,
        reason="chosen",
    )
    if presence == AgentProfile.Presence.OFFLINE:
        conversations_return_unanswered(actor)
    enqueue_assignment()
    return profile


def conversations_return_unanswered(user: User) -> int:
    """An agent went offline: the conversations in which a citizen waits for an answer go
    back to the queue; those already answered stay with them."""
    returned = list(
        Conversation.objects.select_for_update()
        .filter(assignee=user, status=Conversation.Status.OPEN, waiting_since__isnull=False)
        .order_by("id")
    )
    for conversation in returned:
        conversation.assignee = None
        conversation.assigned_at = None
        conversation.save(update_fields=["assignee", "assigned_at"])
        audit(
            "conversation.unassigned",
            conversation_id=conversation.id,
            assignee_id=None,
            previous_assignee_id=user.pk,
            team_id=conversation.team_id,
            reason="agent_offline",
        )
    return len(returned)


@transaction.atomic
def agents_mark_inactive_away(*, now: datetime | None = None) -> int:
    """Available agents not seen for WEBCARE_AUTO_AWAY_MINUTES become away: they keep their
    conversations and get no new ones. Coming back does not make them available again;
    they choose that themselves. Agents never seen in the UI or API (last_seen_at empty,
    e.g. set up by a command) are left alone."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.WEBCARE_AUTO_AWAY_MINUTES)
    idle = list(
        AgentProfile.objects.select_for_update(skip_locked=True)
        .filter(presence=AgentProfile.Presence.AVAILABLE, last_seen_at__lt=cutoff)
        .order_by("id")
    )
    for profile in idle:
        profile.presence = AgentProfile.Presence.AWAY
        profile.presence_changed_at = now
        profile.save(update_fields=["presence", "presence_changed_at"])
        audit(
            "agent.presence_changed",
            user_id=profile.user_id,
            previous=AgentProfile.Presence.AVAILABLE,
            presence=AgentProfile.Presence.AWAY,
            reason="inactive",
            last_seen_at=profile.last_seen_at.isoformat() if profile.last_seen_at else None,
        )
    return len(idle)


def agent_record_seen(*, user_id: int, now: datetime | None = None) -> bool:
    """Note that the agent used Webcare just now, at most one write per minute: a
    conditional update, so concurrent requests (and processes) write once. Not audited:
    it is a heartbeat, not a decision."""
    now = now or timezone.now()
    return bool(
        AgentProfile.objects.filter(user_id=user_id)
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lte=now - SEEN_WRITE_INTERVAL))
        .update(last_seen_at=now)
    )


@transaction.atomic
def agent_update_settings(
    *,
    actor: User,
    user_id: int,
    capacity: int | None = None,
    in_training: bool | None = None,
) -> AgentProfile:
    """A team lead sets an agent's capacity (most open conversations assigned
    automatically) and whether they are in training (replies need approval)."""
    team_lead_or_denied(actor)
    profile = AgentProfile.objects.select_for_update().filter(user_id=user_id).first()
    if profile is None:
        raise ServiceError(_("This person is not part of the webcare team."))
    changes: dict[str, tuple[Any, Any]] = {}
    if capacity is not None:
        if not 0 <= capacity <= MAX_CAPACITY:
            raise ServiceError(_("Capacity must be between 0 and %(max)d.") % {"max": MAX_CAPACITY})
        if capacity != profile.capacity:
            changes["capacity"] = (profile.capacity, capacity)
            profile.capacity = capacity
    if in_training is not None and in_training != profile.in_training:
        # Training is the step between trainee and agent; leads and administrators change
        # roles on the staff page (inbox/services/staff.py).
        if profile.role not in (AgentProfile.Role.TRAINEE, AgentProfile.Role.AGENT):
            raise ServiceError(_("Only agents and trainees can be put in or out of training."))
        changes["role"] = (
            profile.role,
            AgentProfile.Role.TRAINEE if in_training else AgentProfile.Role.AGENT,
        )
        profile.role = changes["role"][1]
    if not changes:
        return profile
    profile.save(update_fields=list(changes))
    audit(
        "agent.settings_changed",
        actor=actor,
        user_id=user_id,
        **{name: new for name, (_old, new) in changes.items()},
        previous={name: old for name, (old, _new) in changes.items()},
    )
    if "capacity" in changes:
        enqueue_assignment()
    return profile
