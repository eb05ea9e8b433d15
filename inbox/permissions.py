"""Who may do what: the four roles and the permissions each one has.

Every page and API endpoint declares one permission (the view decorators in
inbox/views/__init__.py, the API permission classes in inbox/api/permissions.py), and
tests/test_url_permissions.py walks every URL pattern to prove that anonymous users and
every role without that permission are refused. docs/permissions.md prints the matrix.

The roles are nested, each one having everything the one before has (as in Chatwoot, where
an administrator is also an agent): in a small municipality one person is often agent, team
lead and administrator at once, and a single role per account keeps that simple. The
difference between trainee and agent is not a page but the four-eyes rule: a trainee's
replies wait for a team lead's approval (inbox/services/approval.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from django.utils.translation import gettext_lazy as _

from inbox.models import AgentProfile

Role = AgentProfile.Role


class Permission(StrEnum):
    # Inbox, conversations, replies, notes, own canned responses, search, own settings.
    WORK_INBOX = "work_inbox"
    # Replies go out without a team lead's approval.
    REPLY_WITHOUT_APPROVAL = "reply_without_approval"
    # Dashboard, exports of figures, teams, routing rules, approvals, shared canned
    # responses, opening hours, service norms, topics.
    LEAD_TEAMS = "lead_teams"
    # Channels and their credentials, staff accounts and roles, retention, archive exports,
    # data subject requests, the audit log.
    ADMINISTER = "administer"


PERMISSION_LABELS: Final = {
    Permission.WORK_INBOX: _("Work in the inbox: read conversations, reply, add notes, search"),
    Permission.REPLY_WITHOUT_APPROVAL: _("Send replies without a team lead's approval"),
    Permission.LEAD_TEAMS: _(
        "Lead teams: dashboard, teams, routing rules, approvals, shared canned responses, "
        "opening hours, service norms, topics"
    ),
    Permission.ADMINISTER: _(
        "Administer: channels, staff accounts, retention, archive exports, data subject "
        "requests, audit log"
    ),
}

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.TRAINEE: frozenset({Permission.WORK_INBOX}),
    Role.AGENT: frozenset({Permission.WORK_INBOX, Permission.REPLY_WITHOUT_APPROVAL}),
    Role.TEAM_LEAD: frozenset(
        {Permission.WORK_INBOX, Permission.REPLY_WITHOUT_APPROVAL, Permission.LEAD_TEAMS}
    ),
    Role.ADMINISTRATOR: frozenset(Permission),
}

# Roles from least to most trusted; `roles_without` lists the ones a test must see refused.
ROLE_ORDER: Final = (Role.TRAINEE, Role.AGENT, Role.TEAM_LEAD, Role.ADMINISTRATOR)


def role_has(role: str, permission: Permission | str) -> bool:
    """Whether `role` (an AgentProfile.role value) grants `permission`; unknown roles grant
    nothing."""
    try:
        return Permission(permission) in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in ROLE_ORDER if permission in ROLE_PERMISSIONS[role]]


def roles_without(permission: Permission) -> list[Role]:
    return [role for role in ROLE_ORDER if permission not in ROLE_PERMISSIONS[role]]
