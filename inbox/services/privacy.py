"""Retention and anonymisation (AVG storage limitation; the municipality's selection list).

docs/architecture.md, "Privacy and archiving". Anonymising keeps what the dashboard's
figures need (times, channel, team, tags, care cycles) and removes text, names, handles,
attachments and raw payloads; deleting removes the conversation.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User

from inbox.models import RetentionRun

__all__ = [
    "contacts_anonymise",
    "conversations_anonymise",
    "conversations_delete",
    "retention_apply",
    "retention_policy_set",
]


def conversations_anonymise(*, actor: User | None, conversation_ids: list[int], reason: str) -> int:
    """Anonymise these conversations; returns how many were changed."""
    raise NotImplementedError


def conversations_delete(*, actor: User | None, conversation_ids: list[int], reason: str) -> int:
    """Delete these conversations with their messages and notes; returns how many."""
    raise NotImplementedError


def contacts_anonymise(*, actor: User | None, contact_ids: list[int], reason: str) -> int:
    """Anonymise these contacts (names, handle, platform id, avatar) and all their
    conversations; returns how many contacts."""
    raise NotImplementedError


def retention_policy_set(
    *,
    actor: User,
    channel_id: int | None,
    action: str,
    months_after_resolution: int,
    require_archive: bool,
    basis: str,
    is_active: bool,
) -> None:
    raise NotImplementedError


def retention_apply(
    *, actor: User | None = None, dry_run: bool, now: datetime | None = None
) -> RetentionRun:
    """Apply every active retention policy (or, with dry_run, only report what it would
    remove); the run and its report are stored as a RetentionRun."""
    raise NotImplementedError
