"""API tokens (`Authorization: Token …`, docs/architecture.md "REST API"): one per team
member, issued and rotated by `manage.py api_token`."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from inbox.models import AgentProfile
from inbox.services.common import ServiceError, audit

__all__ = ["api_token_issue"]


@transaction.atomic
def api_token_issue(*, user_id: int, rotate: bool = False, actor: User | None = None) -> Token:
    """The team member's token, created on first use; `rotate` replaces it, so the old one
    stops working at once. Only the webcare team gets one, as only they may use the API."""
    user = User.objects.select_for_update().get(pk=user_id)
    if not AgentProfile.objects.filter(user=user).exists():
        raise ServiceError(
            _("%(username)s is not part of the webcare team.") % {"username": user.username}
        )
    existing = Token.objects.filter(user=user).first()
    if existing is not None and not rotate:
        return existing
    if existing is not None:
        existing.delete()
    token = Token.objects.create(user=user)
    # Which user got a token, never the token itself.
    audit("api_token.rotated" if existing else "api_token.created", actor=actor, user_id=user.pk)
    return token
