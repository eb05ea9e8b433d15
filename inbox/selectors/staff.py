"""Reads for the administrators' staff page (inbox/views/staff_admin.py)."""

from __future__ import annotations

from django.db.models import Prefetch

from inbox.models import AgentProfile, TeamMembership


def staff_accounts(*, role: str = "") -> list[AgentProfile]:
    """Every account with an agent profile, active ones first, by name, with its teams
    (`profile.user.team_memberships`, team preloaded): three queries however many."""
    profiles = AgentProfile.objects.select_related("user").prefetch_related(
        Prefetch(
            "user__team_memberships",
            queryset=TeamMembership.objects.select_related("team").order_by("team__name"),
        )
    )
    if role:
        profiles = profiles.filter(role=role)
    return list(
        profiles.order_by(
            "-user__is_active", "user__first_name", "user__last_name", "user__username"
        )
    )


def active_administrator_count() -> int:
    return AgentProfile.objects.filter(
        role=AgentProfile.Role.ADMINISTRATOR, user__is_active=True
    ).count()
