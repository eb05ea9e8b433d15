"""Reads of the REST API (inbox/api/): querysets the cursor pagination pages through, each
with its related rows joined or prefetched so that a page costs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from channels.models import Channel
from inbox.models import (
    AgentProfile,
    CannedResponse,
    CareCycle,
    Conversation,
    ConversationTag,
    Message,
    Note,
    Tag,
    Team,
    TeamMembership,
)
from inbox.selectors.assignment import open_load


@dataclass(frozen=True)
class ConversationFilters:
    status: str | None = None
    # "me", "none" or a user id.
    assignee: str | None = None
    team_id: int | None = None
    channel_id: int | None = None
    priority: int | None = None
    tag: str | None = None
    waiting: bool | None = None
    # Text in the citizen's or our messages, or in the contact's name.
    query: str | None = None


def _conversation_rows(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return conversations.select_related("contact", "channel", "assignee", "team").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


def conversations_filtered(*, user: User, filters: ConversationFilters) -> QuerySet[Conversation]:
    conversations = Conversation.objects.all()
    if filters.status:
        conversations = conversations.filter(status=filters.status)
    if filters.assignee == "me":
        conversations = conversations.filter(assignee=user)
    elif filters.assignee == "none":
        conversations = conversations.filter(assignee__isnull=True)
    elif filters.assignee:
        conversations = conversations.filter(assignee_id=int(filters.assignee))
    if filters.team_id is not None:
        conversations = conversations.filter(team_id=filters.team_id)
    if filters.channel_id is not None:
        conversations = conversations.filter(channel_id=filters.channel_id)
    if filters.priority is not None:
        conversations = conversations.filter(priority=filters.priority)
    if filters.tag:
        conversations = conversations.filter(
            Exists(
                ConversationTag.objects.filter(
                    conversation=OuterRef("pk"), tag__name__iexact=filters.tag
                )
            )
        )
    if filters.waiting is not None:
        conversations = conversations.filter(waiting_since__isnull=not filters.waiting)
    if filters.query:
        text_matches = Message.objects.filter(
            conversation=OuterRef("pk"), text__icontains=filters.query
        )
        conversations = conversations.filter(
            Exists(text_matches)
            | Q(contact__username__icontains=filters.query)
            | Q(contact__display_name__icontains=filters.query)
        )
    return _conversation_rows(conversations)


def conversation_summary(conversation_id: int) -> Conversation:
    return _conversation_rows(Conversation.objects.filter(id=conversation_id)).get()


def conversation_in_full(conversation_id: int) -> Conversation:
    """One conversation with its thread, notes, tags and care cycles, in six queries."""
    return (
        _conversation_rows(Conversation.objects.filter(id=conversation_id))
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=Message.objects.select_related("author_user", "author_contact").order_by(
                    "sent_at", "id"
                ),
            ),
            Prefetch(
                "notes",
                queryset=Note.objects.select_related("author")
                .prefetch_related("mentions")
                .order_by("created_at", "id"),
            ),
            Prefetch("care_cycles", queryset=CareCycle.objects.order_by("number")),
        )
        .get()
    )


def message_get(message_id: int) -> Message:
    return Message.objects.select_related("author_user", "author_contact").get(id=message_id)


def conversation_notes(conversation_id: int) -> QuerySet[Note]:
    """The conversation's notes; DoesNotExist when there is no such conversation."""
    if not Conversation.objects.filter(id=conversation_id).exists():
        raise Conversation.DoesNotExist
    return (
        Note.objects.filter(conversation_id=conversation_id)
        .select_related("author")
        .prefetch_related("mentions")
    )


def note_get(note_id: int) -> Note:
    return Note.objects.select_related("author").prefetch_related("mentions").get(id=note_id)


def replies_awaiting_approval() -> QuerySet[Message]:
    return Message.objects.filter(
        delivery_status=Message.DeliveryStatus.AWAITING_APPROVAL
    ).select_related("author_user", "author_contact")


def canned_responses_listed(*, user: User, role: str, query: str = "") -> QuerySet[CannedResponse]:
    """What the canned-responses page lists: the user's own, the shared ones of everyone
    and of the user's teams; team leads, who manage them, every shared one."""
    if role in (AgentProfile.Role.TEAM_LEAD, AgentProfile.Role.ADMINISTRATOR):
        responses = CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    else:
        responses = CannedResponse.objects.filter(
            Q(owner=user)
            | Q(owner__isnull=True, team__isnull=True)
            | Q(
                owner__isnull=True,
                team__in=TeamMembership.objects.filter(user=user).values("team_id"),
            )
        )
    query = query.strip().removeprefix("/").strip()
    if query:
        responses = responses.filter(
            Q(shortcut__icontains=query) | Q(title__icontains=query) | Q(text__icontains=query)
        )
    return responses.select_related("team")


def agents_with_load() -> QuerySet[AgentProfile]:
    """Every team member with `load`: their open conversations (what capacity limits)."""
    return (
        AgentProfile.objects.select_related("user")
        .annotate(load=open_load())
        .prefetch_related(
            Prefetch(
                "user__team_memberships",
                queryset=TeamMembership.objects.select_related("team").order_by("team__name"),
            )
        )
    )


def agent_with_load(user_id: int) -> AgentProfile:
    return agents_with_load().get(user_id=user_id)


def teams_with_members() -> QuerySet[Team]:
    return Team.objects.prefetch_related(
        Prefetch("memberships", queryset=TeamMembership.objects.order_by("user_id"))
    )


def channels_with_quarantine() -> QuerySet[Channel]:
    """Channels with `open_quarantine`: unreadable items waiting for an admin."""
    return Channel.objects.annotate(
        open_quarantine=Count("quarantine", filter=Q(quarantine__resolved_at__isnull=True))
    )


def channel_with_quarantine(channel_id: int) -> Channel:
    return channels_with_quarantine().get(id=channel_id)
