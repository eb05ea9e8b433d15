"""Staff accounts kept in step with the identity provider at each single sign-on login
(webcare/oidc.py; docs/architecture.md, "Logging in").

With single sign-on the provider's groups are the source of truth for the role: a login
creates the account (first time) or updates its role and name from the claims.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from inbox.models import AgentProfile
from inbox.services.assignment import enqueue_assignment
from inbox.services.common import audit
from inbox.services.staff import staff_member_create

# Highest first: a user in several mapped groups gets the highest of their roles.
ROLES_HIGHEST_FIRST = [
    AgentProfile.Role.ADMINISTRATOR,
    AgentProfile.Role.TEAM_LEAD,
    AgentProfile.Role.AGENT,
    AgentProfile.Role.TRAINEE,
]


def sso_role_for_groups(groups: list[str], role_groups: dict[str, list[str]]) -> str | None:
    """The highest role one of `groups` maps to (OIDC_ROLE_GROUPS), or None."""
    member_of = set(groups)
    for role in ROLES_HIGHEST_FIRST:
        if member_of & set(role_groups.get(role, [])):
            return role
    return None


@transaction.atomic
def sso_staff_member_create(
    *, username: str, role: str, first_name: str, last_name: str, email: str
) -> User:
    """A first login of someone the provider knows: an account without a password (they
    can only sign in through the provider). The system acts, so the actor is None."""
    profile = staff_member_create(
        username=username,
        password=None,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
    )
    return profile.user


@transaction.atomic
def sso_staff_member_update(
    *, user_id: int, role: str, first_name: str, last_name: str, email: str
) -> User:
    """A later login: the role from the provider's groups (audited when it changes, as
    `staff_role_set` does), the name and e-mail address from its claims."""
    user = get_user_model().objects.select_for_update().get(pk=user_id)
    profile = AgentProfile.objects.select_for_update().filter(user_id=user_id).first()
    if profile is None:
        # An account from before (a superuser, an old login) that is now in a webcare group.
        AgentProfile.objects.create(user=user, role=role)
        audit("staff.created", user_id=user_id, role=role, password_set=user.has_usable_password())
    elif profile.role != role:
        previous = profile.role
        profile.role = role
        profile.save(update_fields=["role"])
        audit(
            "staff.role_changed",
            user_id=user_id,
            role=role,
            previous_role=previous,
            source="sso",
        )
        # Team leads are assigned only their teams' work: the queue may look different now.
        enqueue_assignment()
    changed = {
        field: value
        for field, value in {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
        }.items()
        # A claim the provider does not send keeps what Webcare has.
        if value and getattr(user, field) != value
    }
    if changed:
        for field, value in changed.items():
            setattr(user, field, value)
        user.save(update_fields=list(changed))
    return user
