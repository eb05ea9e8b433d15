"""Reads of the assignment slice: colleagues with their presence and load, teams with
their members, routing rules. Each is a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Func, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce

from inbox.models import AgentProfile, Conversation, RoutingRule, Team, TeamMembership


@dataclass(frozen=True)
class Colleague:
    user_id: int
    name: str
    role: str
    presence: str
    presence_label: str
    capacity: int
    in_training: bool
    # Open conversations assigned to them (what capacity counts).
    load: int

    @property
    def is_available(self) -> bool:
        return self.presence == AgentProfile.Presence.AVAILABLE


def open_load() -> Coalesce:
    """An AgentProfile's open conversations (what capacity limits), as a correlated count
    that the partial index `conversation_open_load_idx` answers. A COUNT … FILTER over a join
    would read every conversation the agent ever had: half a second per page with a million
    messages' history."""
    counted = (
        Conversation.objects.filter(assignee=OuterRef("user_id"), status=Conversation.Status.OPEN)
        .order_by()
        .annotate(count=Func("id", function="COUNT"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def colleagues(*, user_id: int | None = None) -> list[Colleague]:
    """Every active staff member (or just `user_id`) with presence, capacity and open load,
    by name: one query."""
    profiles = (
        AgentProfile.objects.filter(user__is_active=True)
        .filter(**({"user_id": user_id} if user_id is not None else {}))
        .select_related("user")
        .annotate(load=open_load())
        .order_by("user__first_name", "user__last_name", "user__username")
    )
    return [
        Colleague(
            user_id=profile.user_id,
            name=profile.user.get_full_name() or profile.user.username,
            role=profile.role,
            presence=profile.presence,
            presence_label=str(profile.get_presence_display()),
            capacity=profile.capacity,
            in_training=profile.in_training,
            load=profile.load,
        )
        for profile in profiles
    ]


@dataclass(frozen=True)
class TeamOverview:
    team: Team
    members: list[Colleague]
    # Members who would get a conversation now: available with free capacity.
    available: int


def colleague(user_id: int) -> Colleague | None:
    found = colleagues(user_id=user_id)
    return found[0] if found else None


def teams() -> list[Team]:
    return list(Team.objects.order_by("name"))


def team_name(team_id: int) -> str:
    return Team.objects.filter(id=team_id).values_list("name", flat=True).first() or ""


def conversation_contact_id(conversation_id: int) -> int | None:
    return (
        Conversation.objects.filter(id=conversation_id).values_list("contact_id", flat=True).first()
    )


def teams_overview(staff: list[Colleague]) -> list[TeamOverview]:
    """Teams with their members' presence and load (from `colleagues()`), for the team
    lead's page: two queries (teams, memberships) however many teams and members."""
    everyone = {colleague.user_id: colleague for colleague in staff}
    memberships = TeamMembership.objects.order_by("id")
    overview = []
    for team in Team.objects.prefetch_related(
        Prefetch("memberships", queryset=memberships, to_attr="membership_rows")
    ).order_by("name"):
        members = sorted(
            (
                everyone[membership.user_id]
                for membership in team.membership_rows
                if membership.user_id in everyone
            ),
            key=lambda colleague: colleague.name.casefold(),
        )
        overview.append(
            TeamOverview(
                team=team,
                members=members,
                available=sum(
                    1 for member in members if member.is_available and member.load < member.capacity
                ),
            )
        )
    return overview


def routing_rules() -> list[RoutingRule]:
    return list(RoutingRule.objects.select_related("team", "channel").order_by("position", "id"))


def routing_rule_get(routing_rule_id: int) -> RoutingRule:
    return RoutingRule.objects.select_related("team", "channel").get(id=routing_rule_id)
