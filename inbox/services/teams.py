"""Teams and their members, managed by team leads (docs/architecture.md, "Assignment
engine"). Routing sends conversations to a team; assignment picks among its members."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from inbox.models import AgentProfile, Team, TeamMembership
from inbox.services.assignment import enqueue_assignment, team_lead_or_denied
from inbox.services.common import ServiceError, audit

__all__ = ["team_create", "team_member_add", "team_member_remove", "team_update"]


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ServiceError(_("Give the team a name."))
    if len(name) > 100:
        raise ServiceError(_("A team name has at most 100 characters."))
    return name


def _name_taken(name: str, *, except_id: int | None = None) -> bool:
    same_name = Team.objects.filter(name__iexact=name)
    if except_id is not None:
        same_name = same_name.exclude(id=except_id)
    return same_name.exists()


def _take_default_from_others(team_id: int | None) -> int | None:
    """Only one team is the default (DB constraint): the current one stops being it.
    Returns its id, for the audit trail."""
    defaults = Team.objects.select_for_update().filter(is_default=True)
    if team_id is not None:
        defaults = defaults.exclude(id=team_id)
    previous = defaults.first()
    if previous is None:
        return None
    previous.is_default = False
    previous.save(update_fields=["is_default"])
    return previous.pk


@transaction.atomic
def team_create(*, actor: User, name: str, description: str = "", is_default: bool = False) -> Team:
    team_lead_or_denied(actor)
    name = _clean_name(name)
    if _name_taken(name):
        raise ServiceError(_("There is a team with this name already."))
    previous_default_id = _take_default_from_others(None) if is_default else None
    try:
        with transaction.atomic():
            team = Team.objects.create(
                name=name, description=description.strip()[:300], is_default=is_default
            )
    except IntegrityError as error:  # a concurrent create or default switch won
        raise ServiceError(_("Another team lead changed the teams just now; try again.")) from error
    audit(
        "team.created",
        actor=actor,
        team_id=team.pk,
        name=team.name,
        is_default=is_default,
        previous_default_team_id=previous_default_id,
    )
    return team


@transaction.atomic
def team_update(
    *, actor: User, team_id: int, name: str, description: str, is_default: bool
) -> Team:
    """Rename, describe, or make the default team (which moves the default here).

    Without a default team, conversations no rule claims have no team and go to any
    available agent.
    """
    team_lead_or_denied(actor)
    team = Team.objects.select_for_update().filter(id=team_id).first()
    if team is None:
        raise ServiceError(_("This team does not exist."))
    name = _clean_name(name)
    if _name_taken(name, except_id=team.pk):
        raise ServiceError(_("There is a team with this name already."))
    values: dict[str, Any] = {
        "name": name,
        "description": description.strip()[:300],
        "is_default": is_default,
    }
    changed = [column for column, value in values.items() if getattr(team, column) != value]
    if not changed:
        return team
    previous = {column: getattr(team, column) for column in changed}
    previous_default_id = _take_default_from_others(team.pk) if is_default else None
    for column in changed:
        setattr(team, column, values[column])
    try:
        with transaction.atomic():
            team.save(update_fields=changed)
    except IntegrityError as error:
        raise ServiceError(_("Another team lead changed the teams just now; try again.")) from error
    audit(
        "team.updated",
        actor=actor,
        team_id=team.pk,
        previous=previous,
        previous_default_team_id=previous_default_id,
        **{column: values[column] for column in changed},
    )
    return team


@transaction.atomic
def team_member_add(*, actor: User, team_id: int, user_id: int) -> TeamMembership:
    """Add a staff member to a team (an agent can be in several). Idempotent."""
    team_lead_or_denied(actor)
    team = Team.objects.filter(id=team_id).first()
    if team is None:
        raise ServiceError(_("This team does not exist."))
    if not AgentProfile.objects.filter(user_id=user_id, user__is_active=True).exists():
        raise ServiceError(_("Only active members of the webcare team can join a team."))
    membership, created = TeamMembership.objects.get_or_create(team=team, user_id=user_id)
    if created:
        audit("team.member_added", actor=actor, team_id=team.pk, user_id=user_id)
        # They may take the team's waiting conversations now.
        enqueue_assignment()
    return membership


@transaction.atomic
def team_member_remove(*, actor: User, team_id: int, user_id: int) -> None:
    """Remove a member; the team's conversations they have stay with them. Idempotent."""
    team_lead_or_denied(actor)
    deleted, _rows = TeamMembership.objects.filter(team_id=team_id, user_id=user_id).delete()
    if deleted:
        audit("team.member_removed", actor=actor, team_id=team_id, user_id=user_id)
