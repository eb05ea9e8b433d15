"""Canned responses: the team's and each agent's standard answers."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from inbox import canned
from inbox.models import (
    CannedResponse,
    Team,
)
from inbox.services.assignment import staff_profile_or_denied
from inbox.services.common import ServiceError, audit

logger = logging.getLogger(__name__)


class _Unchanged:
    """The `team_id` of an update that leaves the team as it is."""


UNCHANGED = _Unchanged()


def _canned_response_team(team_id: int | None, *, shared: bool) -> Team | None:
    if team_id is None:
        return None
    if not shared:
        raise ServiceError(_("Only a shared canned response can belong to a team."))
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise ServiceError(_("This team does not exist."))
    return team


def _canned_response_check_access(actor: User, *, owner: User | None) -> None:
    """Team leads manage the shared responses; every team member their own personal ones."""
    profile = staff_profile_or_denied(actor)
    refusal = canned.access_refusal(
        role=profile.role, actor_id=actor.pk, owner_id=owner.pk if owner else None
    )
    if refusal:
        raise PermissionDenied(refusal)


def _canned_response_check_unique(
    *, shortcut: str, owner: User | None, exclude_id: int | None = None
) -> None:
    # The database constraints decide; this only turns the common case into a message.
    taken = CannedResponse.objects.filter(shortcut=shortcut, owner=owner)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise ServiceError(
            _("The shortcut “%(shortcut)s” is taken already.") % {"shortcut": shortcut}
        )


@transaction.atomic
def canned_response_create(
    *, actor: User, shortcut: str, title: str, text: str, shared: bool, team_id: int | None = None
) -> CannedResponse:
    """`shared` with the whole staff, or, with `team_id`, with that team's members only."""
    owner = None if shared else actor
    _canned_response_check_access(actor, owner=owner)
    team = _canned_response_team(team_id, shared=shared)
    _canned_response_check_unique(shortcut=shortcut, owner=owner)
    response = CannedResponse.objects.create(
        shortcut=shortcut, title=title, text=text, owner=owner, team=team, created_by=actor
    )
    audit(
        "canned_response.created",
        actor=actor,
        canned_response_id=response.pk,
        shortcut=shortcut,
        shared=shared,
        team_id=team_id,
    )
    return response


@transaction.atomic
def canned_response_update(
    *,
    actor: User,
    canned_response_id: int,
    shortcut: str,
    title: str,
    text: str,
    team_id: int | _Unchanged | None = UNCHANGED,
) -> CannedResponse:
    response = CannedResponse.objects.select_for_update().get(pk=canned_response_id)
    _canned_response_check_access(actor, owner=response.owner)
    _canned_response_check_unique(shortcut=shortcut, owner=response.owner, exclude_id=response.pk)
    response.shortcut, response.title, response.text = shortcut, title, text
    update_fields = ["shortcut", "title", "text", "updated_at"]
    if not isinstance(team_id, _Unchanged):
        response.team = _canned_response_team(team_id, shared=response.is_shared)
        update_fields.append("team")
    response.save(update_fields=update_fields)
    audit(
        "canned_response.updated",
        actor=actor,
        canned_response_id=response.pk,
        shortcut=shortcut,
        shared=response.is_shared,
        team_id=response.team_id,
    )
    return response


@transaction.atomic
def canned_response_delete(*, actor: User, canned_response_id: int) -> None:
    response = CannedResponse.objects.select_for_update().get(pk=canned_response_id)
    _canned_response_check_access(actor, owner=response.owner)
    audit(
        "canned_response.deleted",
        actor=actor,
        canned_response_id=response.pk,
        shortcut=response.shortcut,
        shared=response.is_shared,
    )
    response.delete()
