"""The agent's own settings: language and notifications (the settings page, /settings/).

Presence has its own service (`agent_set_presence` in `assignment`): it moves
conversations, these only change how Webcare speaks to the agent.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from inbox.models import AgentProfile
from inbox.services.common import ServiceError, audit

__all__ = ["agent_set_language", "agent_update_preferences"]


def _language_checked(language: str) -> str:
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ServiceError(_("Unknown language: %(language)s.") % {"language": language})
    return language


def _profile_change(actor: User, values: dict[str, Any]) -> AgentProfile:
    """Stores the values that differ, with one audit event naming them (none if nothing
    changed, so saving an untouched form leaves no trace)."""
    profile = (
        AgentProfile.objects.select_for_update().filter(user=actor, user__is_active=True).first()
    )
    if profile is None:
        raise PermissionDenied(_("Your account is not part of the webcare team."))
    changed = {name: value for name, value in values.items() if getattr(profile, name) != value}
    if not changed:
        return profile
    previous = {name: getattr(profile, name) for name in changed}
    for name, value in changed.items():
        setattr(profile, name, value)
    profile.save(update_fields=list(changed))
    audit(
        "agent.preferences_changed",
        actor=actor,
        user_id=actor.pk,
        changed=changed,
        previous=previous,
    )
    return profile


@transaction.atomic
def agent_update_preferences(
    *,
    actor: User,
    language: str,
    notify_on_assignment: bool,
    notify_on_mention: bool,
    notify_sound: bool,
    notify_desktop: bool,
) -> AgentProfile:
    """The settings page saved: the agent's language and how they are told about new work."""
    return _profile_change(
        actor,
        {
            "language": _language_checked(language),
            "notify_on_assignment": notify_on_assignment,
            "notify_on_mention": notify_on_mention,
            "notify_sound": notify_sound,
            "notify_desktop": notify_desktop,
        },
    )


@transaction.atomic
def agent_set_language(*, actor: User, language: str) -> AgentProfile:
    """The language switch in the header, used by a logged-in agent: their choice, too."""
    return _profile_change(actor, {"language": _language_checked(language)})
