"""Who may use the API: the same roles and permissions as the pages (inbox/permissions.py;
`staff_required`, `team_lead_required`, `administrator_required` in inbox/views).

A request without valid credentials gets 401; a logged-in user who is not on the webcare
team (has no AgentProfile) 403, everywhere but the channel endpoints (see IsChannelAdmin).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from inbox import selectors
from inbox.models import AgentProfile
from inbox.permissions import Permission


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
    """Authenticated, a member of the webcare team, and with a role that grants
    `required_permission` (inbox/permissions.py); tests/test_url_permissions.py reads it."""

    required_permission = Permission.WORK_INBOX
    refusal = gettext_lazy("Your role does not allow this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False  # DRF answers 401 with the WWW-Authenticate header
        profile = selectors.agent_profile_for(request.user)
        if profile is None:
            raise exceptions.PermissionDenied(_("Your account is not part of the webcare team."))
        if not profile.can(self.required_permission):
            raise exceptions.PermissionDenied(str(self.refusal))
        _remember_profile(request, profile)
        return True


class IsTeamLead(IsStaff):
    required_permission = Permission.LEAD_TEAMS
    refusal = gettext_lazy("Only team leads can do this.")


class IsAdministrator(IsStaff):
    required_permission = Permission.ADMINISTER
    refusal = gettext_lazy("Only administrators can do this.")


class IsChannelAdmin(BasePermission):
    """Channels hold the platform credentials: only administrators, and superusers (IT, who
    also have Django's admin and `manage.py channels`, and need no AgentProfile here), may
    list, create and poll them."""

    required_permission = Permission.ADMINISTER

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        profile = selectors.agent_profile_for(user)
        if profile is None or not profile.can(Permission.ADMINISTER):
            raise exceptions.PermissionDenied(_("Only administrators can manage channels."))
        _remember_profile(request, profile)
        return True
