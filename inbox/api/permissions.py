"""Who may use the API: the same rules as the pages (`staff_required`,
`team_lead_required` in inbox/views), plus channel administration.

A request without valid credentials gets 401; a logged-in user who is not on the webcare
team (has no AgentProfile) 403, everywhere but the channel endpoints (see IsChannelAdmin).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from inbox import selectors
from inbox.models import AgentProfile


def _remember_profile(request: Request, profile: AgentProfile) -> None:
    request.agent_profile = profile  # type: ignore[attr-defined]
    # On the Django request too: AgentSeenMiddleware records the agent's activity from it,
    # so using the API counts as being active, like using the pages.
    request._request.agent_profile = profile  # type: ignore[attr-defined]


def staff_profile(request: Request) -> AgentProfile:
    """The agent profile IsStaff loaded for this request."""
    return request.agent_profile  # type: ignore[attr-defined]


def staff_user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class IsStaff(BasePermission):
    """Authenticated and a member of the webcare team."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False  # DRF answers 401 with the WWW-Authenticate header
        profile = selectors.agent_profile_for(request.user)
        if profile is None:
            raise exceptions.PermissionDenied(_("Your account is not part of the webcare team."))
        _remember_profile(request, profile)
        return True


class IsTeamLead(IsStaff):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if staff_profile(request).role != AgentProfile.Role.TEAM_LEAD:
            raise exceptions.PermissionDenied(_("Only team leads can do this."))
        return True


class IsChannelAdmin(BasePermission):
    """Channels hold the platform credentials: only superusers (IT, who also have Django's
    admin and `manage.py channels`) and team leads (who see channel health on the
    dashboard) may list, create and poll them. A superuser needs no AgentProfile here."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        profile = selectors.agent_profile_for(user)
        if profile is None or profile.role != AgentProfile.Role.TEAM_LEAD:
            raise exceptions.PermissionDenied(
                _("Only team leads and administrators can manage channels.")
            )
        _remember_profile(request, profile)
        return True
