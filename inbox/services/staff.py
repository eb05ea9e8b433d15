"""Webcare staff accounts."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction

from inbox.models import (
    AgentProfile,
)
from inbox.services.assignment import enqueue_assignment
from inbox.services.common import audit

logger = logging.getLogger(__name__)


@transaction.atomic
def staff_member_create(
    *,
    username: str,
    password: str,
    role: str = AgentProfile.Role.AGENT,
    first_name: str = "",
    last_name: str = "",
    presence: str = AgentProfile.Presence.OFFLINE,
    capacity: int | None = None,
    actor: User | None = None,
) -> AgentProfile:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=username, password=password, first_name=first_name, last_name=last_name
    )
    profile = AgentProfile.objects.create(
        user=user,
        role=role,
        presence=presence,
        **({"capacity": capacity} if capacity is not None else {}),
    )
    audit("staff.created", actor=actor, user_id=user.pk, role=role)
    if presence == AgentProfile.Presence.AVAILABLE:
        enqueue_assignment()
    return profile
