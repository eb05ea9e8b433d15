"""Webcare staff accounts: creating them, their role, switching them off and on again
(docs/architecture.md, "Administration").

Administrators manage accounts on the staff page (inbox/views/staff_admin.py); team leads
only move people between trainee and agent (`agent_update_settings`). There is always at
least one active administrator: the last one cannot demote or deactivate themselves.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from inbox.models import AgentProfile
from inbox.services.assignment import conversations_return_unanswered, enqueue_assignment
from inbox.services.common import ServiceError, audit

logger = logging.getLogger(__name__)


@transaction.atomic
def staff_member_create(
    *,
    username: str,
    password: str | None,
    role: str = AgentProfile.Role.AGENT,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    presence: str = AgentProfile.Presence.OFFLINE,
    capacity: int | None = None,
    actor: User | None = None,
) -> AgentProfile:
    """A new team member. `password` None leaves the password unusable: the person signs in
    with single sign-on only. Callers validate the password (`staff_account_create` does)."""
    if role not in AgentProfile.Role.values:
        raise ServiceError(_("Unknown role: %(role)s.") % {"role": role})
    user = get_user_model().objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    profile = AgentProfile.objects.create(
        user=user,
        role=role,
        presence=presence,
        **({"capacity": capacity} if capacity is not None else {}),
    )
    audit(
        "staff.created",
        actor=actor,
        user_id=user.pk,
        role=role,
        password_set=password is not None,
    )
    if presence == AgentProfile.Presence.AVAILABLE:
        enqueue_assignment()
    return profile


def _administrator_or_denied(actor: User) -> AgentProfile:
    profile = AgentProfile.objects.filter(user=actor, user__is_active=True).first()
    if profile is None or not profile.is_administrator:
        raise PermissionDenied(_("Only administrators can manage staff accounts."))
    return profile


@transaction.atomic
def staff_account_create(
    *,
    actor: User,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    password: str | None,
) -> AgentProfile:
    """An administrator adds a team member, with an initial password that Django's password
    validators accept, or none (unusable) when the municipality signs in with SSO."""
    _administrator_or_denied(actor)
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise ServiceError(_("The username %(username)s is taken.") % {"username": username})
    if password is not None:
        # Raises ValidationError with the validators' own messages; the form shows them.
        validate_password(
            password, user=User(username=username, first_name=first_name, email=email)
        )
    return staff_member_create(
        actor=actor,
        username=username,
        password=password,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
    )


def _refuse_losing_the_last_administrator(profile: AgentProfile) -> None:
    """Refuse a change that takes away `profile`'s active administrator role when nobody
    else has it. The active administrators' rows are locked first, so that two
    administrators demoting each other at the same moment cannot both succeed."""
    if not (profile.is_administrator and profile.user.is_active):
        return
    administrator_ids = list(
        AgentProfile.objects.select_for_update(of=("self",))
        .filter(role=AgentProfile.Role.ADMINISTRATOR, user__is_active=True)
        .order_by("id")
        .values_list("user_id", flat=True)
    )
    if administrator_ids == [profile.user_id]:
        raise ServiceError(
            _(
                "%(username)s is the last active administrator. Make someone else "
                "administrator first: Webcare always needs one."
            )
            % {"username": profile.user.username}
        )


def _profile_for_update(user_id: int) -> AgentProfile:
    profile = (
        AgentProfile.objects.select_for_update(of=("self", "user"))
        .select_related("user")
        .filter(user_id=user_id)
        .first()
    )
    if profile is None:
        raise ServiceError(_("This person is not part of the webcare team."))
    return profile


@transaction.atomic
def staff_role_set(*, actor: User, user_id: int, role: str) -> AgentProfile:
    """An administrator gives a team member another role (inbox/permissions.py)."""
    _administrator_or_denied(actor)
    if role not in AgentProfile.Role.values:
        raise ServiceError(_("Unknown role: %(role)s.") % {"role": role})
    profile = _profile_for_update(user_id)
    previous = profile.role
    if previous == role:
        return profile
    if previous == AgentProfile.Role.ADMINISTRATOR:
        _refuse_losing_the_last_administrator(profile)
    profile.role = role
    profile.save(update_fields=["role"])
    audit("staff.role_changed", actor=actor, user_id=user_id, role=role, previous_role=previous)
    # Team leads are assigned only their teams' work: the queue may look different now.
    enqueue_assignment()
    return profile


def _sessions_end(user_id: int) -> int:
    """Delete the user's sessions. The database backend keeps the user id inside the
    encoded session data, so each unexpired session is decoded; with a 12-hour session
    age that is at most a working day's logins."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


@transaction.atomic
def staff_deactivate(*, actor: User, user_id: int) -> AgentProfile:
    """Someone leaves the team: they cannot sign in any more, their waiting conversations go
    back to the queue (the same path as going offline), and their sessions and API token
    stop working at once. Their name stays on everything they did."""
    _administrator_or_denied(actor)
    profile = _profile_for_update(user_id)
    user = profile.user
    if not user.is_active:
        return profile
    _refuse_losing_the_last_administrator(profile)
    previous_presence = profile.presence
    user.is_active = False
    user.save(update_fields=["is_active"])
    profile.presence = AgentProfile.Presence.OFFLINE
    profile.presence_changed_at = timezone.now()
    profile.save(update_fields=["presence", "presence_changed_at"])
    returned = conversations_return_unanswered(user)
    tokens_revoked, _details = Token.objects.filter(user=user).delete()
    sessions_ended = _sessions_end(user.pk)
    audit(
        "staff.deactivated",
        actor=actor,
        user_id=user.pk,
        previous_is_active=True,
        previous_presence=previous_presence,
        conversations_returned=returned,
        sessions_ended=sessions_ended,
        api_tokens_revoked=tokens_revoked,
    )
    if returned:
        enqueue_assignment()
    return profile


@transaction.atomic
def staff_reactivate(*, actor: User, user_id: int) -> AgentProfile:
    """Someone comes back: they can sign in again, offline until they choose otherwise, with
    the role they had. A new API token is issued only on request (`manage.py api_token`)."""
    _administrator_or_denied(actor)
    profile = _profile_for_update(user_id)
    user = profile.user
    if user.is_active:
        return profile
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit(
        "staff.reactivated",
        actor=actor,
        user_id=user.pk,
        previous_is_active=False,
        role=profile.role,
    )
    return profile
