"""Storing what the connectors read: messages, contacts and conversations, exactly once."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, OuterRef, QuerySet, Subquery, Value
from django.utils import timezone
from psycopg2.extras import Json

from channels.base import FetchResult, PlatformAuthor, PlatformMessage, RejectedItem, SentReply
from channels.models import Channel, QuarantinedItem
from inbox.formal_requests import find_formal_requests
from inbox.guards import personal_data_found
from inbox.models import (
    AgentProfile,
    CareCycle,
    Contact,
    Conversation,
    ErasedPlatformMessage,
    Message,
)
from inbox.personal_data import kinds_found
from inbox.services.assignment import enqueue_assignment
from inbox.services.common import BatchAuditEvent, audit, audit_events_save
from inbox.services.privacy import erased_message_digest
from inbox.services.replies import conversation_note_response, reply_record_delivery
from inbox.services.routing import Route, Router, conversation_route_audit_event, router_load
from inbox.text import storable_attachments, storable_author, storable_json, storable_text

logger = logging.getLogger(__name__)


def _quarantine_key(rejected: RejectedItem) -> str:
    if rejected.external_id:
        return rejected.external_id[:128]
    canonical = json.dumps(storable_json(rejected.raw), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IngestResult:
    new_messages: int
    new_conversations: int
    echoes: int
    rejected: int


@transaction.atomic
def messages_ingest(
    *, channel_id: int, fetched: FetchResult, from_webhook: bool = False
) -> IngestResult:
    """Store what a connector fetched, exactly once, and advance the channel's cursor.

    The channel row is locked first, so two ingests of one channel (a poll and a retried
    poll, or a webhook) run one after the other and see each other's rows. The unique
    (channel, external_id) constraint is the last line of defence behind that.
    A webhook delivery (`from_webhook`) takes the same path but leaves the polling cursor
    and the poll's health alone (docs/architecture.md, "Webhooks"); `fetched.cursor` is
    then ignored.

    Citizens' messages are stored a batch at a time (`_citizen_messages_store`): a poll of a
    hundred messages costs about ten statements, not ten per message. Our own account's
    messages (echoes) are rare and taken one by one after them.
    """
    # NO KEY UPDATE: it serialises ingests of the channel like FOR UPDATE, but does not block
    # rows that merely point at the channel (a reply, an erased message's digest, a webhook
    # body's), so retention holding a conversation cannot deadlock with an ingest.
    channel = Channel.objects.select_for_update(no_key=True).get(id=channel_id)
    external_ids = [message.external_id for message in fetched.messages]
    # Erased by retention or at a citizen's request: never imported again, whether a poll
    # re-reads it or a webhook is redelivered (docs/architecture.md, "Retention and
    # anonymisation"). One query for the batch, with the ids stored already.
    already_stored, erased = _stored_and_erased(
        channel,
        external_ids,
        [rejected.external_id for rejected in fetched.rejected if rejected.external_id],
    )
    if erased:
        logger.info(
            "erased platform messages not imported again",
            extra={"channel": channel.name, "count": len(erased)},
        )
    already_stored |= erased
    stored = _Stored(channel=channel, load_router=functools.cache(router_load))
    echoes = 0
    # Our own account's messages wait until the citizens' messages before them are stored
    # (they look for the message they answer in the database), and are then taken one by
    # one. Taking them after citizens' messages that came later changes nothing: what an
    # echo does to its conversation (conversation_note_response) is worked out from the
    # conversation's messages and times, not from the order they were stored in. Only a
    # citizen's answer to one of them makes them go first, so that the answer finds it.
    citizen_messages: list[PlatformMessage] = []
    echo_messages: list[PlatformMessage] = []
    for platform_message in sorted(fetched.messages, key=lambda message: message.sent_at):
        if platform_message.external_id in already_stored:
            continue
        already_stored.add(platform_message.external_id)
        if platform_message.is_from_account:
            echo_messages.append(platform_message)
            continue
        if platform_message.in_reply_to_external_id in {echo.external_id for echo in echo_messages}:
            _citizen_messages_store(citizen_messages, stored)
            citizen_messages = []
            echoes += sum(_ingest_echo(channel, echo, stored) for echo in echo_messages)
            echo_messages = []
        citizen_messages.append(platform_message)
    _citizen_messages_store(citizen_messages, stored)
    echoes += sum(_ingest_echo(channel, echo, stored) for echo in echo_messages)
    new_messages, new_conversations = stored.new_messages, stored.new_conversations
    now = timezone.now()

    quarantined_keys = {
        _quarantine_key(rejected): rejected
        for rejected in fetched.rejected
        if rejected.external_id not in erased
    }
    already_quarantined = set(
        QuarantinedItem.objects.filter(
            channel=channel, item_key__in=list(quarantined_keys)
        ).values_list("item_key", flat=True)
    )
    newly_quarantined = 0
    for item_key, rejected in quarantined_keys.items():
        if item_key in already_quarantined:
            continue  # read again by an overlapping poll, or by a webhook and a poll
        newly_quarantined += 1
        # Kept with its raw payload where admins look, rather than silently dropped.
        logger.warning(
            "quarantined platform item: %s", rejected.reason, extra={"channel": channel.name}
        )
        item = QuarantinedItem.objects.create(
            channel=channel,
            item_key=item_key,
            reason=storable_text(rejected.reason),
            raw=storable_json(rejected.raw),
        )
        audit("channel.item_quarantined", channel_id=channel.id, quarantined_item_id=item.id)

    if from_webhook:
        if new_messages or echoes:
            stored.events.append(
                BatchAuditEvent(
                    "channel.webhook_received",
                    channel_id=channel.id,
                    data={
                        "new_messages": new_messages,
                        "new_conversations": new_conversations,
                        "echoes": echoes,
                    },
                )
            )
        audit_events_save(stored.events, also_changed=stored.changed)
        if stored.needs_assignment:
            enqueue_assignment()
        return IngestResult(new_messages, new_conversations, echoes, newly_quarantined)

    previous_health = channel.health
    channel.cursor = fetched.cursor
    channel.health = Channel.Health.OK
    channel.last_error = ""
    channel.last_success_at = now
    channel.paused_until = None
    channel.save(
        update_fields=["cursor", "health", "last_error", "last_success_at", "paused_until"]
    )
    if new_messages or echoes or previous_health != Channel.Health.OK:
        stored.events.append(
            BatchAuditEvent(
                "channel.polled",
                channel_id=channel.id,
                data={
                    "new_messages": new_messages,
                    "new_conversations": new_conversations,
                    "echoes": echoes,
                    "recovered": previous_health == Channel.Health.FAILING,
                },
            )
        )
    audit_events_save(stored.events, also_changed=stored.changed)
    if stored.needs_assignment:
        enqueue_assignment()
    return IngestResult(new_messages, new_conversations, echoes, newly_quarantined)


def _stored_and_erased(
    channel: Channel, external_ids: list[str], rejected_ids: list[str]
) -> tuple[set[str], set[str]]:
    """Which of the messages' platform ids the channel has stored, and which of those and the
    rejected items' ids were erased (their digests in ErasedPlatformMessage): one query."""
    by_digest = {
        erased_message_digest(external_id): external_id
        for external_id in {*external_ids, *rejected_ids}
    }
    stored_rows = Message.objects.filter(channel=channel, external_id__in=external_ids).values_list(
        "external_id", Value(False, output_field=BooleanField())
    )
    erased_rows = ErasedPlatformMessage.objects.filter(
        channel_id=channel.id, external_id_digest__in=list(by_digest)
    ).values_list("external_id_digest", Value(True, output_field=BooleanField()))
    stored: set[str] = set()
    erased: set[str] = set()
    for key, is_erased in stored_rows.union(erased_rows, all=True):
        if is_erased:
            erased.add(by_digest[key])
        else:
            stored.add(key)
    return stored, erased


@dataclass
class _Stored:
    """What one ingest has stored so far, and what it keeps between its runs of citizens'
    messages: the contacts it has seen and the routing rules (read once, and only when a
    conversation starts)."""

    channel: Channel
    load_router: Callable[[], Router]
    contacts: dict[str, Contact] = field(default_factory=dict)
    # Audit events and changed conversations, for `audit_events_save` at the end.
    events: list[BatchAuditEvent] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    new_messages: int = 0
    new_conversations: int = 0
    needs_assignment: bool = False


def _citizen_messages_store(platform_messages: list[PlatformMessage], stored: _Stored) -> None:
    """Store citizens' messages (in time order, none of them stored yet) with a fixed number
    of queries, whatever their number: every row the loop below decides on is written by one
    INSERT (or UPDATE) per table, and every audit event by one INSERT, in the ingest's
    transaction. The outcome is that of taking the messages one by one, in time order."""
    if not platform_messages:
        return
    channel = stored.channel
    _contacts_upsert(channel, platform_messages, stored.contacts)
    # Every conversation is one Python object however it is found (its thread, a merge, the
    # message it answers), so that all the batch's changes to it are saved together.
    locked: dict[int, Conversation] = {}
    by_thread = _conversations_of_threads(
        channel, {message.thread_key for message in platform_messages}, locked
    )
    parents = _conversations_of_parents(
        channel,
        {
            message.in_reply_to_external_id
            for message in platform_messages
            if message.in_reply_to_external_id and message.thread_key not in by_thread
        },
        locked,
    )
    # Read with the lock (`_locking`): what a reopening needs.
    last_cycle_numbers = {
        conversation.pk: conversation.last_care_cycle or 0  # type: ignore[attr-defined]
        for conversation in locked.values()
    }
    available_assignees = {
        conversation.assignee_id
        for conversation in locked.values()
        if conversation.assignee_available  # type: ignore[attr-defined]
    }

    new_conversations: list[Conversation] = []
    # (conversation, number, started_at) of the care cycles that start.
    care_cycles: list[tuple[Conversation, int, datetime]] = []
    # The message rows but for their conversation's id (new conversations have none yet).
    messages: list[tuple[Conversation, tuple[Any, ...]]] = []
    # "conversation.reopened" events, with the index of the message that reopened.
    reopened_by: list[tuple[BatchAuditEvent, int]] = []
    now = timezone.now()
    events: list[BatchAuditEvent] = []
    changed: set[int] = set()
    # Messages of this run by platform id, with the conversation each joins, for replies to
    # them later in the run.
    stored_here: dict[str, Conversation] = {}
    for platform_message in platform_messages:
        contact = stored.contacts[platform_message.author.external_id]
        conversation = by_thread.get(platform_message.thread_key)
        if conversation is None and platform_message.in_reply_to_external_id:
            # Platforms without a thread id (Mastodon) give each status its own key; a
            # citizen's reply to a message we have (their own, or our reply to them) joins
            # that conversation.
            parent = stored_here.get(platform_message.in_reply_to_external_id)
            if parent is not None and parent.contact_id == contact.id:
                conversation = parent
            elif parent is None:
                answered = parents.get(platform_message.in_reply_to_external_id)
                if answered is not None and answered[0] == contact.id:
                    conversation = answered[1]
        if conversation is None:
            conversation, route = _conversation_new(channel, contact, platform_message, stored)
            new_conversations.append(conversation)
            care_cycles.append((conversation, 1, platform_message.sent_at))
            events.append(
                BatchAuditEvent(
                    action="conversation.created", channel_id=channel.id, conversation=conversation
                )
            )
            events.append(conversation_route_audit_event(conversation, route))
        by_thread[platform_message.thread_key] = conversation

        text = storable_text(platform_message.text)
        messages.append(
            (
                conversation,
                (
                    channel.id,
                    Message.Direction.INBOUND,
                    platform_message.external_id,
                    platform_message.in_reply_to_external_id,
                    contact.pk,
                    text,
                    platform_message.is_private,
                    Json(storable_attachments(platform_message.attachments)),
                    platform_message.sent_at,
                    Json(storable_json(platform_message.raw)),
                    "",
                    0,
                    "",
                    "",
                    now,
                    # The guards look once, here, for the poll and the webhook alike
                    # (docs/architecture.md, "Guards on incoming messages"). Personal data
                    # only matters where everyone can read it.
                    ([] if platform_message.is_private else kinds_found(personal_data_found(text))),
                    find_formal_requests(text),
                ),
            )
        )
        stored_here[platform_message.external_id] = conversation
        noted = _conversation_note_inbound(
            conversation,
            platform_message.sent_at,
            agent_is_available=available_assignees.__contains__,
            last_cycle_numbers=last_cycle_numbers,
        )
        if noted.reopened is not None:
            reopened_by.append((noted.reopened, len(messages) - 1))
        if conversation.pk is not None:
            changed.add(conversation.pk)
        if noted.care_cycle is not None:
            care_cycles.append((conversation, noted.care_cycle, platform_message.sent_at))
        events.extend(noted.events)
        if conversation.assignee_id is None:
            stored.needs_assignment = True

    _conversations_insert(new_conversations)
    # One round trip for the messages, the care cycles that start and what the messages
    # changed on the conversations that were there (data-modifying WITH queries).
    message_ids = _insert_rows(
        Message._meta.db_table,
        _MESSAGE_COLUMNS,
        [(conversation.pk, *row) for conversation, row in messages],
        returning_id=True,
        along=[
            _insert_sql(
                CareCycle._meta.db_table,
                ("conversation_id", "number", "started_at"),
                [
                    (conversation.pk, number, started)
                    for conversation, number, started in care_cycles
                ],
            ),
            _inbound_update_sql([locked[conversation_id] for conversation_id in changed]),
        ],
    )
    for event, index in reopened_by:
        event.message_id = message_ids[index]
    # Written with the ingest's other events, in one INSERT at its end.
    stored.events += events
    stored.changed.update(conversation.pk for conversation, _ in messages)
    stored.new_messages += len(messages)
    stored.new_conversations += len(new_conversations)


# The columns of an inbound message row (`_citizen_messages_store`), after conversation_id;
# the others are NULL. A new NOT NULL column of Message must be added here (the ingest
# tests fail until it is).
_MESSAGE_COLUMNS = (
    "conversation_id",
    "channel_id",
    "direction",
    "external_id",
    "in_reply_to_external_id",
    "author_contact_id",
    "text",
    "is_private",
    "attachments",
    "sent_at",
    "raw",
    "delivery_error",
    "delivery_attempts",
    "approval_reason",
    "review_feedback",
    "created_at",
    "personal_data_kinds",
    "formal_request_kinds",
)


SqlWithParameters = tuple[str, list[Any]]


def _insert_sql(
    table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> SqlWithParameters | None:
    """A multi-row INSERT of plain values, or None for no rows."""
    if not rows:
        return None
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    values = ", ".join([placeholders] * len(rows))
    # Table and column names come from the code, the values go as parameters.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608
    return sql, [value for row in rows for value in row]


def _insert_rows(
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    returning_id: bool = False,
    along: Sequence[SqlWithParameters | None] = (),
) -> list[int]:
    """One multi-row INSERT of plain values; the new rows' ids in the order of `rows`.
    `along`: other writes sent in the same statement, as data-modifying WITH queries (they
    run once each, and none sees the others' rows).

    For the hundred messages of a poll, Django's bulk_create spent more time turning model
    instances into parameters (twenty fields each) than PostgreSQL spent storing them; and
    on a busy server each statement's round trip counts."""
    insert = _insert_sql(table, columns, rows)
    if insert is None:
        return []
    sql, parameters = insert
    writes = [write for write in along if write is not None]
    if writes:
        sql = (
            "WITH "
            + ", ".join(f"along_{number} AS ({write})" for number, (write, _) in enumerate(writes))
            + " "
            + sql
        )
        parameters = [*(value for _, values in writes for value in values), *parameters]
    if returning_id:
        sql += " RETURNING id"
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return [row_id for (row_id,) in cursor.fetchall()] if returning_id else []


# The columns of a new contact row; the others (anonymised_at, person) are NULL.
_CONTACT_COLUMNS = (
    "channel_id",
    "external_id",
    "username",
    "display_name",
    "avatar_url",
    "category",
    "created_at",
    "updated_at",
)


_CONTACTS_UPSERT = """
WITH created AS (
    INSERT INTO inbox_contact ({columns}) VALUES {rows}
    ON CONFLICT (channel_id, external_id) DO NOTHING
    RETURNING {fields}, TRUE
)
SELECT * FROM created
UNION ALL
SELECT {fields}, FALSE FROM inbox_contact WHERE channel_id = %s AND external_id = ANY(%s)
"""


def _contacts_upsert(
    channel: Channel, platform_messages: list[PlatformMessage], contacts: dict[str, Contact]
) -> None:
    """The contact of every author not seen earlier in this ingest, created or brought up to
    date with the first of their messages: one statement inserts the new ones and reads the
    others (both parts see the table as it was before it), a second one when someone renamed
    themselves."""
    authors: dict[str, PlatformAuthor] = {}
    for platform_message in platform_messages:
        if platform_message.author.external_id not in contacts:
            authors.setdefault(platform_message.author.external_id, platform_message.author)
    if not authors:
        return
    now = timezone.now()
    # Cleaned and cut to the columns: a 300-character display name must not stop the poll.
    storable = {external_id: storable_author(author) for external_id, author in authors.items()}
    rows = [
        (channel.id, external_id, fields["username"], fields["display_name"],
         fields["avatar_url"], Contact.Category.CITIZEN, now, now)
        for external_id, fields in storable.items()
    ]  # fmt: skip
    attnames = [field.attname for field in Contact._meta.concrete_fields]
    placeholders = "(" + ", ".join(["%s"] * len(_CONTACT_COLUMNS)) + ")"
    sql = _CONTACTS_UPSERT.format(
        columns=", ".join(_CONTACT_COLUMNS),
        rows=", ".join([placeholders] * len(rows)),
        fields=", ".join(str(field.column) for field in Contact._meta.concrete_fields),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(value for row in rows for value in row), channel.id, list(authors)])
        read = cursor.fetchall()
    renamed: list[Contact] = []
    renamed_fields: set[str] = set()
    for *values, created in read:
        contact = Contact.from_db(connection.alias, attnames, values)
        contacts[contact.external_id] = contact
        if created:
            continue
        # Citizens rename themselves; keep the latest the platform told us.
        changed = {
            name: value
            for name, value in storable[contact.external_id].items()
            if value and getattr(contact, name) != value
        }
        for name, value in changed.items():
            setattr(contact, name, value)
        if changed:
            contact.updated_at = now
            renamed.append(contact)
            renamed_fields.update(changed)
    if len(read) != len(authors):
        # Only a contact created by another transaction since this statement began (the
        # channel's lock keeps other ingests out) goes missing; the poll is retried.
        raise RuntimeError("contacts were created by someone else during the ingest")
    if renamed:
        Contact.objects.bulk_update(renamed, fields=[*sorted(renamed_fields), "updated_at"])


def _conversations_of_threads(
    channel: Channel, thread_keys: set[str], locked: dict[int, Conversation]
) -> dict[str, Conversation]:
    """The conversations of these thread keys (or those they were merged into), locked."""
    rows = (
        _locking().filter(channel=channel, external_thread_id__in=list(thread_keys)).order_by("id")
    )
    return {
        conversation.external_thread_id: _surviving_conversation(conversation, locked)
        for conversation in rows.order_by("id")
    }


def _conversations_of_parents(
    channel: Channel, external_ids: set[str], locked: dict[int, Conversation]
) -> dict[str, tuple[int, Conversation]]:
    """For each of these platform ids that we have: the contact of the conversation it is in,
    and that conversation (or the one it was merged into), locked."""
    if not external_ids:
        return {}
    parents = list(
        Message.objects.filter(channel=channel, external_id__in=list(external_ids)).values_list(
            "external_id", "conversation_id", "conversation__contact_id"
        )
    )
    conversation_ids = {conversation_id for _, conversation_id, _ in parents} - set(locked)
    for conversation in _locking().filter(id__in=conversation_ids).order_by("id"):
        locked[conversation.id] = conversation
    return {
        str(external_id): (contact_id, _surviving_conversation(locked[conversation_id], locked))
        for external_id, conversation_id, contact_id in parents
    }


def _surviving_conversation(
    conversation: Conversation, locked: dict[int, Conversation]
) -> Conversation:
    """The conversation a merged one lives on in (locked), or the conversation itself; one
    object per row in `locked`."""
    conversation = locked.setdefault(conversation.id, conversation)
    seen = {conversation.id}
    while conversation.merged_into_id is not None and conversation.merged_into_id not in seen:
        seen.add(conversation.merged_into_id)
        merged_into = locked.get(conversation.merged_into_id)
        if merged_into is None:
            merged_into = _locking().get(id=conversation.merged_into_id)
            locked[merged_into.id] = merged_into
        conversation = merged_into
    return conversation


# What `_conversation_note_inbound` changes on a conversation.
_INBOUND_COLUMNS = (
    "status",
    "snoozed_until",
    "waiting_since",
    "first_inbound_at",
    "last_inbound_at",
    "last_activity_at",
    "assignee_id",
    "assigned_at",
)
_INBOUND_UPDATE = """
UPDATE inbox_conversation AS conversation SET {assignments}
FROM (VALUES {rows}) AS noted (id, {columns})
WHERE conversation.id = noted.id
"""
_INBOUND_ROW = (
    "(%s::bigint, %s::varchar, %s::timestamptz, %s::timestamptz, %s::timestamptz,"
    " %s::timestamptz, %s::timestamptz, %s::integer, %s::timestamptz)"
)


def _inbound_update_sql(conversations: list[Conversation]) -> SqlWithParameters | None:
    """One UPDATE saving what citizens' messages changed on these (locked) conversations.
    The whole of `_INBOUND_COLUMNS` is written: values that did not change are the row's own,
    under the lock. (Django's bulk_update builds a CASE per row and column; for a poll that
    answers 30 conversations it cost more than the update itself.)"""
    if not conversations:
        return None
    sql = _INBOUND_UPDATE.format(
        assignments=", ".join(f"{column} = noted.{column}" for column in _INBOUND_COLUMNS),
        rows=", ".join([_INBOUND_ROW] * len(conversations)),
        columns=", ".join(_INBOUND_COLUMNS),
    )
    parameters = [
        value
        for conversation in conversations
        for value in (
            conversation.pk,
            *(getattr(conversation, column) for column in _INBOUND_COLUMNS),
        )
    ]
    return sql, parameters


def _locking() -> QuerySet[Conversation]:
    """Conversations, row-locked, with what a citizen's message reopening one needs: the
    number of its last care cycle and whether its assignee is available."""
    return Conversation.objects.select_for_update().annotate(
        last_care_cycle=Subquery(
            CareCycle.objects.filter(conversation=OuterRef("pk"))
            .order_by("-number")
            .values("number")[:1]
        ),
        assignee_available=Exists(
            AgentProfile.objects.filter(
                user_id=OuterRef("assignee_id"),
                presence=AgentProfile.Presence.AVAILABLE,
                user__is_active=True,
            )
        ),
    )


# The columns of a new conversation row; the others (merged_into, first_response_at,
# anonymised_at) are NULL.
_CONVERSATION_COLUMNS = (
    "channel_id",
    "contact_id",
    "external_thread_id",
    "is_private",
    "status",
    "priority",
    "snoozed_until",
    "team_id",
    "assignee_id",
    "assigned_at",
    "first_inbound_at",
    "waiting_since",
    "last_inbound_at",
    "last_activity_at",
    "created_at",
)


def _conversations_insert(conversations: list[Conversation]) -> None:
    """Insert new conversations as they are after the batch's messages; they get their ids."""
    now = timezone.now()
    ids = _insert_rows(
        Conversation._meta.db_table,
        _CONVERSATION_COLUMNS,
        [
            tuple(
                now if column == "created_at" else getattr(conversation, column)
                for column in _CONVERSATION_COLUMNS
            )
            for conversation in conversations
        ],
        returning_id=True,
    )
    for conversation, conversation_id in zip(conversations, ids, strict=True):
        conversation.pk = conversation_id
        conversation._state.adding = False


def _conversation_new(
    channel: Channel, contact: Contact, platform_message: PlatformMessage, stored: _Stored
) -> tuple[Conversation, Route]:
    """A new conversation (not saved yet) for the message's thread, routed before the insert
    so that the row is written once with its team and priority."""
    sent_at = platform_message.sent_at
    route = stored.load_router().route(
        channel_id=channel.id,
        first_text=platform_message.text,
        contact_category=contact.category,
    )
    conversation = Conversation(
        channel=channel,
        contact=contact,
        external_thread_id=platform_message.thread_key,
        is_private=platform_message.is_private,
        status=Conversation.Status.OPEN,
        first_inbound_at=sent_at,
        waiting_since=sent_at,
        last_inbound_at=sent_at,
        last_activity_at=sent_at,
        team_id=route.team_id,
        priority=route.priority,
    )
    return conversation, route


@dataclass
class _Noted:
    # The number of the care cycle this message starts, if it starts one.
    care_cycle: int | None
    events: list[BatchAuditEvent]
    reopened: BatchAuditEvent | None


def _conversation_note_inbound(
    conversation: Conversation,
    sent_at: datetime,
    *,
    agent_is_available: Callable[[int], bool],
    last_cycle_numbers: dict[int, int],
) -> _Noted:
    """A citizen's message: they wait for us now; a pending, snoozed or resolved conversation
    opens again, and a resolved one starts a new care cycle (docs/architecture.md,
    "Conversation lifecycle"). Changes the conversation object (`_INBOUND_COLUMNS`); the
    caller saves it, the new care cycle and the audit events with its batch."""
    previous_status = conversation.status
    reopened = previous_status != Conversation.Status.OPEN
    events: list[BatchAuditEvent] = []
    if reopened:
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
    if conversation.waiting_since is None or sent_at < conversation.waiting_since:
        conversation.waiting_since = sent_at
    conversation.first_inbound_at = min(conversation.first_inbound_at, sent_at)
    conversation.last_inbound_at = max(conversation.last_inbound_at, sent_at)
    conversation.last_activity_at = max(conversation.last_activity_at, sent_at)
    care_cycle = None
    if previous_status == Conversation.Status.RESOLVED:
        # A new round of care (lifecycle.care_cycle_start, for a whole batch): the row lock
        # is held, the one-current-cycle constraint guards the rest.
        care_cycle = last_cycle_numbers.get(conversation.pk, 0) + 1
        last_cycle_numbers[conversation.pk] = care_cycle
        if conversation.assignee_id is not None and not agent_is_available(
            conversation.assignee_id
        ):
            # Back to the queue, where stickiness still prefers this agent once they are back.
            events.append(
                BatchAuditEvent(
                    action="conversation.unassigned",
                    conversation=conversation,
                    data={
                        "previous_assignee_id": conversation.assignee_id,
                        "reason": "reopened_while_unavailable",
                    },
                )
            )
            conversation.assignee = None
            conversation.assigned_at = None
    reopened_event = None
    if reopened:
        # Its message_id is set once the message has one.
        reopened_event = BatchAuditEvent(
            action="conversation.reopened",
            conversation=conversation,
            data={
                "previous_status": previous_status,
                "care_cycle": care_cycle,
            },
        )
        events.append(reopened_event)
    return _Noted(care_cycle, events, reopened_event)


def _ingest_echo(channel: Channel, platform_message: PlatformMessage, stored: _Stored) -> int:
    """Our own account's message seen in a read: attach it as outbound, never as inbound.

    Either it is a reply of ours whose delivery is still being recorded (match it by thread
    and text), or it was written outside Webcare (e.g. in the X app) under a citizen's
    message we know: then it joins that conversation as an outbound message.
    """
    if not platform_message.in_reply_to_external_id:
        return 0
    pending_replies = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        # A failed reply whose echo arrives did reach the platform after all (the attempt
        # that gave up had an unknown outcome): the echo completes it.
        delivery_status__in=[
            Message.DeliveryStatus.QUEUED,
            Message.DeliveryStatus.SENDING,
            Message.DeliveryStatus.FAILED,
        ],
        in_reply_to_external_id=platform_message.in_reply_to_external_id,
        text=storable_text(platform_message.text),
    )
    # Whether such a reply exists comes with the parent, so that the usual echo (none
    # pending) costs one query here, not two.
    parent = (
        Message.objects.select_related("conversation")
        .filter(channel=channel, external_id=platform_message.in_reply_to_external_id)
        .annotate(
            has_pending_reply=Exists(pending_replies.filter(conversation=OuterRef("conversation")))
        )
        .first()
    )
    if parent is None:
        # A broadcast of our own that mentions us, not part of any citizen conversation.
        return 0
    pending = (
        pending_replies.select_for_update().filter(conversation=parent.conversation).first()
        if parent.has_pending_reply
        else None
    )
    if pending is not None:
        reply_record_delivery(
            pending, SentReply(platform_message.external_id, platform_message.raw), via="echo"
        )
        return 1
    echo = Message.objects.create(
        conversation=parent.conversation,
        channel=channel,
        direction=Message.Direction.OUTBOUND,
        external_id=platform_message.external_id,
        in_reply_to_external_id=platform_message.in_reply_to_external_id,
        text=storable_text(platform_message.text),
        is_private=platform_message.is_private,
        sent_at=platform_message.sent_at,
        raw=storable_json(platform_message.raw),
        delivery_status=Message.DeliveryStatus.SENT,
        delivered_at=platform_message.sent_at,
    )
    stored.events.append(
        BatchAuditEvent(
            "reply.seen_outside_webcare",
            channel_id=channel.id,
            conversation=echo.conversation,
            message_id=echo.id,
        )
    )
    conversation_note_response(echo.conversation, echo, responded_at=platform_message.sent_at)
    return 1
