"""Reads of data subject requests (AVG articles 12, 15 and 17): the register with its
statutory deadlines, finding a citizen's contacts on every channel, what an erasure would
remove, and the access export as a stream of JSON (docs/architecture.md, "Data subject
requests"; the export format is documented there too)."""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from inbox.models import (
    AgentProfile,
    AuditEvent,
    Contact,
    Conversation,
    ConversationTag,
    DataSubjectRequest,
    Message,
    Note,
)

EXPORT_FORMAT = "webcare-data-subject-export/1"
# Contacts listed for one search; a handle or name that matches more is too vague to
# identify one citizen, and the administrator narrows the search.
CONTACT_SEARCH_LIMIT = 50
# Rows fetched at a time while streaming an export: a citizen with thousands of messages
# is never held in memory at once.
EXPORT_CHUNK_SIZE = 500
# Assignment history in an export: the audit actions that say who had the conversation.
ASSIGNMENT_ACTIONS = (
    "conversation.assigned",
    "conversation.transferred",
    "conversation.unassigned",
)


def request_deadline(received_at: date) -> date:
    """One month after receipt (AVG article 12(3)); a day the next month lacks becomes its
    last day: 31 January → 28 (or 29) February."""
    year, month = (
        (received_at.year + 1, 1)
        if received_at.month == 12
        else (
            received_at.year,
            received_at.month + 1,
        )
    )
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(received_at.day, last_day))


@dataclass
class RequestRow:
    request: DataSubjectRequest
    deadline: date
    age_days: int
    is_overdue: bool


def _row(request: DataSubjectRequest, today: date) -> RequestRow:
    deadline = request_deadline(request.received_at)
    return RequestRow(
        request=request,
        deadline=deadline,
        age_days=(today - request.received_at).days,
        is_overdue=request.status == DataSubjectRequest.Status.OPEN and today > deadline,
    )


def data_subject_requests_list(*, today: date | None = None) -> list[RequestRow]:
    """Every request: the open ones first, oldest receipt first (the nearest deadline on
    top); then the handled ones, newest first. One query."""
    today = today or timezone.localdate()
    requests = DataSubjectRequest.objects.select_related("created_by", "handled_by")
    open_requests = [
        _row(request, today)
        for request in requests.filter(status=DataSubjectRequest.Status.OPEN).order_by(
            "received_at", "id"
        )
    ]
    return open_requests + [
        _row(request, today)
        for request in requests.exclude(status=DataSubjectRequest.Status.OPEN).order_by(
            "-received_at", "-id"
        )
    ]


def data_subject_request_row(request_id: int, *, today: date | None = None) -> RequestRow:
    """Raises DataSubjectRequest.DoesNotExist."""
    request = DataSubjectRequest.objects.select_related("created_by", "handled_by").get(
        id=request_id
    )
    return _row(request, today or timezone.localdate())


def _with_activity(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Contacts with their number of conversations and messages and their first and last
    contact, each a subquery, so that one query lists any number of contacts."""
    conversations = Conversation.objects.filter(contact_id=OuterRef("pk")).order_by()
    messages = Message.objects.filter(conversation__contact_id=OuterRef("pk")).order_by()
    return contacts.select_related("channel").annotate(
        conversation_count=Coalesce(
            Subquery(conversations.values("contact_id").annotate(n=Count("id")).values("n")[:1]),
            0,
        ),
        message_count=Coalesce(
            Subquery(
                messages.values("conversation__contact_id").annotate(n=Count("id")).values("n")[:1]
            ),
            0,
        ),
        first_contact_at=Subquery(
            conversations.values("contact_id").annotate(at=Min("first_inbound_at")).values("at")[:1]
        ),
        last_contact_at=Subquery(
            conversations.values("contact_id").annotate(at=Max("last_activity_at")).values("at")[:1]
        ),
    )


def normalised_query(query: str) -> str:
    """A handle with or without its @, or part of a name."""
    return query.strip().removeprefix("@").strip()


@dataclass
class ContactSearch:
    matches: list[Contact] = field(default_factory=list)
    # Accounts linked by an agent (same Person) to a match, that did not match themselves:
    # likely the same citizen, offered for the administrator to tick.
    linked: list[Contact] = field(default_factory=list)
    too_many: bool = False


def contacts_find(query: str) -> ContactSearch:
    """Contacts on every channel whose handle or display name contains `query`
    (case-insensitive), with the accounts linked to them. Two queries."""
    query = normalised_query(query)
    if len(query) < 2:
        return ContactSearch()
    found = list(
        _with_activity(
            Contact.objects.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
            .filter(anonymised_at__isnull=True)
            .order_by("display_name", "username", "id")
        )[: CONTACT_SEARCH_LIMIT + 1]
    )
    matches = found[:CONTACT_SEARCH_LIMIT]
    person_ids = {contact.person_id for contact in matches if contact.person_id is not None}
    linked: list[Contact] = []
    if person_ids:
        linked = list(
            _with_activity(
                Contact.objects.filter(person_id__in=person_ids)
                .exclude(id__in=[contact.id for contact in matches])
                .order_by("display_name", "username", "id")
            )
        )
    return ContactSearch(matches=matches, linked=linked, too_many=len(found) > len(matches))


def contacts_with_activity(contact_ids: Iterable[int]) -> list[Contact]:
    """The contacts selected for a request, with their activity. One query."""
    return list(
        _with_activity(Contact.objects.filter(id__in=list(contact_ids))).order_by(
            "channel__name", "username", "id"
        )
    )


@dataclass
class ErasurePreview:
    contacts: int
    conversations: int
    messages: int
    notes: int
    # Conversations not resolved yet: an ongoing case the erasure would end.
    unresolved: list[Conversation]


def erasure_preview(contact_ids: Iterable[int]) -> ErasurePreview:
    """What erasing these contacts removes. Four queries."""
    contact_ids = list(contact_ids)
    conversations = Conversation.objects.filter(contact_id__in=contact_ids)
    counts = conversations.aggregate(n=Count("id"))
    return ErasurePreview(
        contacts=Contact.objects.filter(id__in=contact_ids).count(),
        conversations=counts["n"],
        messages=Message.objects.filter(conversation__contact_id__in=contact_ids).count(),
        notes=Note.objects.filter(conversation__contact_id__in=contact_ids).count(),
        unresolved=list(
            conversations.exclude(status=Conversation.Status.RESOLVED)
            .select_related("channel", "assignee")
            .order_by("last_activity_at", "id")
        ),
    )


def conversation_ids_of(contact_ids: Iterable[int]) -> list[int]:
    return list(
        Conversation.objects.filter(contact_id__in=list(contact_ids))
        .order_by("id")
        .values_list("id", flat=True)
    )


# --- access export (AVG article 15) ----------------------------------------------------------


@dataclass
class ExportCounts:
    contacts: int
    conversations: int
    messages: int
    notes: int
    audit_events: int

    def as_dict(self) -> dict[str, int]:
        return {
            "contacts": self.contacts,
            "conversations": self.conversations,
            "messages": self.messages,
            "notes": self.notes,
            "audit_events": self.audit_events,
        }


def _citizen_messages(contact_ids: list[int]) -> QuerySet[Message]:
    """Every message in the citizen's conversations, except what another citizen wrote in
    them (a reply by someone else under the citizen's post): that is not about them."""
    return Message.objects.filter(conversation__contact_id__in=contact_ids).filter(
        Q(direction=Message.Direction.OUTBOUND)
        | Q(author_contact_id__isnull=True)
        | Q(author_contact_id__in=contact_ids)
    )


def export_counts(contact_ids: Iterable[int]) -> ExportCounts:
    contact_ids = list(contact_ids)
    return ExportCounts(
        contacts=Contact.objects.filter(id__in=contact_ids).count(),
        conversations=Conversation.objects.filter(contact_id__in=contact_ids).count(),
        messages=_citizen_messages(contact_ids).count(),
        notes=Note.objects.filter(conversation__contact_id__in=contact_ids).count(),
        audit_events=AuditEvent.objects.filter(conversation__contact_id__in=contact_ids).count(),
    )


def _time(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


class _StaffRoles:
    """Staff appear by role, not by name: their names are the employees' personal data,
    not the citizen's, and article 15(4) says access must not harm the rights of others.
    The municipality can still say who it was when the citizen asks (the audit log has it)."""

    def __init__(self) -> None:
        self.roles = dict(AgentProfile.objects.values_list("user_id", "role"))

    def __call__(self, user_id: int | None) -> dict[str, str] | None:
        if user_id is None:
            return None
        return {"role": self.roles.get(user_id, "staff")}


def _channel(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.channel_id,
        "name": conversation.channel.name,
        "kind": conversation.channel.kind,
    }


def _contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "channel": {
            "id": contact.channel_id,
            "name": contact.channel.name,
            "kind": contact.channel.kind,
        },
        "external_id": contact.external_id,
        "username": contact.username,
        "display_name": contact.display_name,
        "avatar_url": contact.avatar_url,
        "category": contact.category,
        "person_id": contact.person_id,
        "created_at": _time(contact.created_at),
        "updated_at": _time(contact.updated_at),
        "anonymised_at": _time(contact.anonymised_at),
    }


def _message(message: Message, staff: _StaffRoles) -> dict[str, Any]:
    inbound = message.direction == Message.Direction.INBOUND
    return {
        "id": message.id,
        "direction": message.direction,
        "from": "citizen" if inbound else "municipality",
        "author_contact_id": message.author_contact_id,
        "author_staff": staff(message.author_user_id),
        "sent_at": _time(message.sent_at),
        "is_private": message.is_private,
        "text": message.text,
        "attachments": message.attachments,
        "external_id": message.external_id,
        "in_reply_to_external_id": message.in_reply_to_external_id,
        "delivery_status": message.delivery_status,
        "delivered_at": _time(message.delivered_at),
        "personal_data_kinds": message.personal_data_kinds,
        "formal_request_kinds": message.formal_request_kinds,
        # What the platform sent us about the citizen's own message, as stored.
        "platform_payload": message.raw if inbound else None,
    }


def _grouped(rows: Iterator[Any]) -> Iterator[tuple[int, list[Any]]]:
    """(conversation_id, rows) from rows ordered by conversation: one conversation's rows at
    a time, never the whole stream."""
    current: int | None = None
    batch: list[Any] = []
    for row in rows:
        if row.conversation_id != current:
            if current is not None:
                yield current, batch
            current, batch = row.conversation_id, []
        batch.append(row)
    if current is not None:
        yield current, batch


class _Cursor:
    """One conversation's rows at a time from a stream ordered by conversation id."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._groups = _grouped(rows)
        self._next: tuple[int, list[Any]] | None = next(self._groups, None)

    def take(self, conversation_id: int) -> list[Any]:
        while self._next is not None and self._next[0] < conversation_id:
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == conversation_id:
            rows = self._next[1]
            self._next = next(self._groups, None)
            return rows
        return []


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def data_subject_export_stream(
    request: DataSubjectRequest, *, generated_at: datetime | None = None
) -> Iterator[str]:
    """The access export as pieces of one JSON document (format EXPORT_FORMAT), streamed:
    conversations, messages, notes and audit events are read with server-side cursors in
    chunks, ordered by conversation, and written one conversation at a time. A fixed
    number of queries, however many conversations and messages there are."""
    contact_ids = list(request.contact_ids)
    staff = _StaffRoles()
    contacts = [
        _contact(contact)
        for contact in Contact.objects.filter(id__in=contact_ids)
        .select_related("channel")
        .order_by("id")
    ]
    head: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "generated_at": _time(generated_at or timezone.now()),
        "request": {
            "id": request.id,
            "kind": request.kind,
            "reference": request.reference,
            "received_at": _time(request.received_at),
        },
        "staff": "by role",
        "contacts": contacts,
    }
    yield _dump(head)[:-1] + ', "conversations": ['

    tags: dict[int, list[dict[str, Any]]] = {}
    for link in (
        ConversationTag.objects.filter(conversation__contact_id__in=contact_ids)
        .select_related("tag")
        .order_by("conversation_id", "created_at", "id")
    ):
        tags.setdefault(link.conversation_id, []).append(
            {"name": link.tag.name, "added_at": _time(link.created_at)}
        )
    messages = _Cursor(
        _citizen_messages(contact_ids)
        .order_by("conversation_id", "sent_at", "id")
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    notes = _Cursor(
        Note.objects.filter(conversation__contact_id__in=contact_ids)
        .order_by("conversation_id", "created_at", "id")
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    events = _Cursor(
        AuditEvent.objects.filter(conversation__contact_id__in=contact_ids)
        .order_by("conversation_id", "created_at", "id")
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    conversations = (
        Conversation.objects.filter(contact_id__in=contact_ids)
        .select_related("channel", "team")
        .order_by("id")
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    counts = {
        "contacts": len(contacts),
        "conversations": 0,
        "messages": 0,
        "notes": 0,
        "audit_events": 0,
    }
    for index, conversation in enumerate(conversations):
        conversation_messages = messages.take(conversation.id)
        conversation_notes = notes.take(conversation.id)
        conversation_events = events.take(conversation.id)
        counts["conversations"] += 1
        counts["messages"] += len(conversation_messages)
        counts["notes"] += len(conversation_notes)
        counts["audit_events"] += len(conversation_events)
        item = {
            "id": conversation.id,
            "contact_id": conversation.contact_id,
            "channel": _channel(conversation),
            "external_thread_id": conversation.external_thread_id,
            "is_private": conversation.is_private,
            "status": conversation.status,
            "priority": conversation.priority,
            "team": conversation.team.name if conversation.team else None,
            "merged_into_id": conversation.merged_into_id,
            "first_inbound_at": _time(conversation.first_inbound_at),
            "first_response_at": _time(conversation.first_response_at),
            "last_inbound_at": _time(conversation.last_inbound_at),
            "last_activity_at": _time(conversation.last_activity_at),
            "created_at": _time(conversation.created_at),
            "anonymised_at": _time(conversation.anonymised_at),
            "tags": tags.get(conversation.id, []),
            "assignee": staff(conversation.assignee_id),
            "messages": [_message(message, staff) for message in conversation_messages],
            "notes": [
                {
                    "id": note.id,
                    "author_staff": staff(note.author_id),
                    "created_at": _time(note.created_at),
                    "text": note.text,
                }
                for note in conversation_notes
            ],
            "assignments": [
                {
                    "action": event.action,
                    "at": _time(event.created_at),
                    "by_staff": staff(event.actor_id),
                    "assignee": staff(event.data.get("assignee_id")),
                }
                for event in conversation_events
                if event.action in ASSIGNMENT_ACTIONS
            ],
            "audit_events": [
                {
                    "action": event.action,
                    "at": _time(event.created_at),
                    "actor_staff": staff(event.actor_id),
                }
                for event in conversation_events
            ],
        }
        yield ("," if index else "") + _dump(item)
    yield '], "counts": ' + _dump(counts) + "}"
