"""A conversation's life: open, pending, snoozed, resolved; care cycles, priority, tags,
notes and merging (docs/architecture.md, "Conversation lifecycle")."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from inbox.models import CareCycle, Conversation


def care_cycle_start(conversation: Conversation, *, started_at: datetime) -> CareCycle:
    """A new round of care, after the conversation was resolved. The caller holds the
    conversation's row lock; the one-current-cycle constraint guards the rest."""
    last_number = CareCycle.objects.filter(conversation=conversation).aggregate(
        last=Max("number")
    )["last"]
    return CareCycle.objects.create(
        conversation=conversation, number=(last_number or 0) + 1, started_at=started_at
    )
