"""Reads of the audit log for administrators (inbox/views/audit_log.py): newest first, by
keyset pagination on the id, so that a page deep into millions of events costs what the
first one does (no OFFSET)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox.models import AuditEvent

PAGE_SIZE = 50
# The CSV export reads the filtered events in chunks of this many, also by id.
EXPORT_CHUNK_SIZE = 2000

# Human names of the actions an administrator looks for most; any other action shows its code.
ACTION_LABELS: dict[str, Any] = {
    "api_token.created": _("API token issued"),
    "api_token.rotated": _("API token replaced"),
    "archive.downloaded": _("Archive downloaded"),
    "archive.exported": _("Archive exported"),
    "archive.failed": _("Archive export failed"),
    "archive.started": _("Archive export started"),
    "audit_log.exported": _("Audit log exported"),
    "auth.locked_out": _("Locked out after failed logins"),
    "auth.login": _("Logged in"),
    "auth.login_failed": _("Login failed"),
    "auth.logout": _("Logged out"),
    "channel.activated": _("Channel switched on"),
    "channel.created": _("Channel connected"),
    "channel.credentials_replaced": _("Channel credentials replaced"),
    "channel.credentials_updated": _("Channel credentials updated"),
    "channel.deactivated": _("Channel switched off"),
    "channel.poll_failed": _("Channel poll failed"),
    "contact.anonymised": _("Citizen anonymised"),
    "conversation.anonymised": _("Conversation anonymised"),
    "conversation.assigned": _("Conversation assigned"),
    "conversation.deleted": _("Conversation deleted"),
    "conversation.merged": _("Conversations merged"),
    "conversation.reopened": _("Conversation reopened"),
    "conversation.resolved": _("Conversation resolved"),
    "conversation.transferred": _("Conversation transferred"),
    "conversation.unassigned": _("Conversation back in the queue"),
    "data_subject.erased": _("Data subject request: data erased"),
    "data_subject.exported": _("Data subject request: data exported"),
    "data_subject.searched": _("Data subject request: citizen searched"),
    "data_subject.contacts_selected": _("Data subject request: accounts selected"),
    "data_subject_request.completed": _("Data subject request completed"),
    "data_subject_request.created": _("Data subject request registered"),
    "data_subject_request.rejected": _("Data subject request rejected"),
    "metrics.exported": _("Figures exported"),
    "note.created": _("Internal note added"),
    "reply.approved": _("Reply approved"),
    "reply.rejected": _("Reply rejected"),
    "reply.sent": _("Reply sent"),
    "retention.applied": _("Retention applied"),
    "retention.dry_run": _("Retention dry run"),
    "retention.policy_changed": _("Retention policy changed"),
    "search.performed": _("Search"),
    "staff.created": _("Staff account created"),
    "staff.deactivated": _("Staff account deactivated"),
    "staff.reactivated": _("Staff account reactivated"),
    "staff.role_changed": _("Role changed"),
    "topic.created": _("Topic created"),
    "topic.deleted": _("Topic deleted"),
    "topic.updated": _("Topic changed"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@dataclass(frozen=True)
class AuditFilters:
    action_prefix: str = ""
    actor_id: int | None = None
    # Calendar dates in Europe/Amsterdam, both inclusive.
    date_from: date | None = None
    date_to: date | None = None
    conversation_id: int | None = None
    channel_id: int | None = None

    def as_audit_data(self) -> dict[str, Any]:
        """The filters as ids and codes, for the export's own audit event."""
        return {
            "action_prefix": self.action_prefix,
            "actor_id": self.actor_id,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "filter_conversation_id": self.conversation_id,
            "filter_channel_id": self.channel_id,
        }


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _filtered(filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if filters.action_prefix:
        events = events.filter(action__startswith=filters.action_prefix)
    if filters.actor_id is not None:
        events = events.filter(actor_id=filters.actor_id)
    if filters.date_from:
        events = events.filter(created_at__gte=_local_midnight(filters.date_from))
    if filters.date_to:
        events = events.filter(created_at__lt=_local_midnight(filters.date_to + timedelta(days=1)))
    if filters.conversation_id is not None:
        events = events.filter(conversation_id=filters.conversation_id)
    if filters.channel_id is not None:
        events = events.filter(channel_id=filters.channel_id)
    return events


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    # The id to pass as `before` for the next (older) page; None on the last page.
    next_before: int | None


def audit_events_page(
    filters: AuditFilters, *, before: int | None = None, page_size: int = PAGE_SIZE
) -> AuditPage:
    """One page of events older than id `before`: a single query, whatever the page size
    or how deep the page (the primary key index walks backwards from `before`)."""
    events = _filtered(filters).select_related("actor", "channel").order_by("-id")
    if before is not None:
        events = events.filter(id__lt=before)
    rows = list(
        events.only(
            "id",
            "created_at",
            "action",
            "conversation_id",
            "message_id",
            "data",
            "actor__username",
            "actor__first_name",
            "actor__last_name",
            "channel__name",
        )[: page_size + 1]
    )
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return AuditPage(events=rows, next_before=rows[-1].id if has_more else None)


def audit_events_for_export(filters: AuditFilters) -> Iterator[AuditEvent]:
    """Every filtered event, newest first, read in keyset chunks so that an export of
    millions neither holds a cursor open for minutes nor loads everything at once."""
    before: int | None = None
    while True:
        page = audit_events_page(filters, before=before, page_size=EXPORT_CHUNK_SIZE)
        yield from page.events
        if page.next_before is None:
            return
        before = page.next_before


def audit_actor_choices() -> list[User]:
    """The staff who can appear as actors: every account with an agent profile."""
    return list(
        User.objects.filter(agent_profile__isnull=False)
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )


def data_items(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's data as compact `key: value` pairs; nested values as compact JSON."""
    return [
        (
            str(key),
            value
            if isinstance(value, str)
            else json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        )
        for key, value in sorted(data.items())
    ]
