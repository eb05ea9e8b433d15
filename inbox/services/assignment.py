"""Who handles which conversation: automatic assignment, taking, transfers, presence."""

from __future__ import annotations

import logging
from collections import deque
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.models import (
    AgentProfile,
    Conversation,
)
from inbox.services.common import ServiceError, audit

logger = logging.getLogger(__name__)

# How many waiting conversations one assignment run hands out; the sweep picks up the rest.
ASSIGNMENT_BATCH_SIZE = 200


def enqueue_assignment() -> None:
    from inbox.tasks import assign_waiting

    transaction.on_commit(assign_waiting.delay)


def agent_is_available(user_id: int) -> bool:
    return AgentProfile.objects.filter(
        user_id=user_id, presence=AgentProfile.Presence.AVAILABLE, user__is_active=True
    ).exists()


@transaction.atomic
def conversations_assign_waiting() -> int:
    """Hand waiting, unassigned conversations to available agents: oldest first, round robin.

    Agent rows are locked (not skipped) so concurrent runs take turns and the round robin
    stays fair; conversation rows are skipped when locked, so a conversation that an agent
    is taking right now is never assigned twice.
    """
    agents = deque(
        AgentProfile.objects.select_for_update()
        .filter(presence=AgentProfile.Presence.AVAILABLE, user__is_active=True)
        .select_related("user")
        .order_by(F("last_assigned_at").asc(nulls_first=True), "id")
    )
    if not agents:
        return 0
    waiting = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            status=Conversation.Status.OPEN, assignee__isnull=True, waiting_since__isnull=False
        )
        .order_by("-priority", "waiting_since", "id")[:ASSIGNMENT_BATCH_SIZE]
    )
    now = timezone.now()
    for offset, conversation in enumerate(waiting):
        agent = agents.popleft()
        conversation.assignee = agent.user
        conversation.assigned_at = now
        conversation.save(update_fields=["assignee", "assigned_at"])
        # Microsecond steps keep the round-robin order exact within one run.
        agent.last_assigned_at = now + timedelta(microseconds=offset)
        agent.save(update_fields=["last_assigned_at"])
        agents.append(agent)
        audit(
            "conversation.assigned",
            conversation_id=conversation.id,
            assignee_id=agent.user_id,
            reason="round_robin",
        )
    return len(waiting)


@transaction.atomic
def conversation_take(*, conversation_id: int, actor: User) -> Conversation:
    """An agent takes an unassigned conversation from the queue."""
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
        reason="taken",
    )
    return conversation


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
    profile.presence = presence
    profile.presence_changed_at = timezone.now()
    profile.save(update_fields=["presence", "presence_changed_at"])
    audit("agent.presence_changed", actor=actor, previous=previous, presence=presence)
    if presence == AgentProfile.Presence.OFFLINE:
        _conversations_return_unanswered(actor)
    enqueue_assignment()
    return profile


def _conversations_return_unanswered(user: User) -> int:
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
            previous_assignee_id=user.pk,
            reason="agent_offline",
        )
    return len(returned)
