"""Storing what the connectors read: messages, contacts and conversations, exactly once."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from channels.base import FetchResult, PlatformMessage, RejectedItem, SentReply
from channels.models import Channel, QuarantinedItem
from inbox.formal_requests import find_formal_requests
from inbox.guards import personal_data_found
from inbox.models import (
    CareCycle,
    Contact,
    Conversation,
    Message,
)
from inbox.personal_data import kinds_found
from inbox.services.assignment import agent_is_available, enqueue_assignment
from inbox.services.common import audit, metrics_mark_changed
from inbox.services.lifecycle import care_cycle_start
from inbox.services.privacy import erased_external_ids
from inbox.services.replies import conversation_note_response, reply_record_delivery
from inbox.services.routing import Router, conversation_record_route, router_load
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
    """
    # NO KEY UPDATE: it serialises ingests of the channel like FOR UPDATE, but does not block
    # rows that merely point at the channel (a reply, an erased message's digest, a webhook
    # body's), so retention holding a conversation cannot deadlock with an ingest.
    channel = Channel.objects.select_for_update(no_key=True).get(id=channel_id)
    external_ids = [message.external_id for message in fetched.messages]
    already_stored = set(
        Message.objects.filter(channel=channel, external_id__in=external_ids).values_list(
            "external_id", flat=True
        )
    )
    # Erased by retention or at a citizen's request: never imported again, whether a poll
    # re-reads it or a webhook is redelivered (docs/architecture.md, "Retention and
    # anonymisation"). One query for the batch.
    erased = erased_external_ids(
        channel_id=channel.id,
        external_ids=[
            *external_ids,
            *(rejected.external_id for rejected in fetched.rejected if rejected.external_id),
        ],
    )
    if erased:
        logger.info(
            "erased platform messages not imported again",
            extra={"channel": channel.name, "count": len(erased)},
        )
    already_stored |= erased
    contacts: dict[str, Contact] = {}
    conversations: dict[str, Conversation] = {}
    new_messages = new_conversations = echoes = 0
    needs_assignment = False
    changed_conversation_ids: set[int] = set()
    now = timezone.now()
    # Read only when the batch starts a conversation, and then once for the whole batch.
    load_router = functools.cache(router_load)

    for platform_message in sorted(fetched.messages, key=lambda message: message.sent_at):
        if platform_message.external_id in already_stored:
            continue
        already_stored.add(platform_message.external_id)
        if platform_message.is_from_account:
            echoes += _ingest_echo(channel, platform_message)
            continue

        contact = contacts.get(platform_message.author.external_id)
        if contact is None:
            contact = _contact_upsert(channel, platform_message)
            contacts[contact.external_id] = contact
        conversation = conversations.get(platform_message.thread_key)
        if conversation is None:
            conversation, created = _conversation_for_thread(
                channel, contact, platform_message, load_router
            )
            conversations[platform_message.thread_key] = conversation
            if created:
                new_conversations += 1
                audit(
                    "conversation.created", channel_id=channel.id, conversation_id=conversation.id
                )

        text = storable_text(platform_message.text)
        message = Message.objects.create(
            conversation=conversation,
            channel=channel,
            direction=Message.Direction.INBOUND,
            external_id=platform_message.external_id,
            in_reply_to_external_id=platform_message.in_reply_to_external_id,
            author_contact=contact,
            text=text,
            is_private=platform_message.is_private,
            attachments=storable_attachments(platform_message.attachments),
            sent_at=platform_message.sent_at,
            raw=storable_json(platform_message.raw),
            # The guards look once, here, for the poll and the webhook alike
            # (docs/architecture.md, "Guards on incoming messages"). Personal data only
            # matters where everyone can read it.
            personal_data_kinds=(
                [] if platform_message.is_private else kinds_found(personal_data_found(text))
            ),
            formal_request_kinds=find_formal_requests(text),
        )
        new_messages += 1
        changed_conversation_ids.add(conversation.id)
        _conversation_note_inbound(conversation, message)
        if conversation.assignee_id is None:
            needs_assignment = True

    metrics_mark_changed(changed_conversation_ids)

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
            audit(
                "channel.webhook_received",
                channel_id=channel.id,
                new_messages=new_messages,
                new_conversations=new_conversations,
                echoes=echoes,
            )
        if needs_assignment:
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
        audit(
            "channel.polled",
            channel_id=channel.id,
            new_messages=new_messages,
            new_conversations=new_conversations,
            echoes=echoes,
            recovered=previous_health == Channel.Health.FAILING,
        )
    if needs_assignment:
        enqueue_assignment()
    return IngestResult(new_messages, new_conversations, echoes, newly_quarantined)


def _contact_upsert(channel: Channel, platform_message: PlatformMessage) -> Contact:
    author = platform_message.author
    # Cleaned and cut to the columns: a 300-character display name must not stop the poll.
    fields = storable_author(author)
    contact, created = Contact.objects.get_or_create(
        channel=channel, external_id=author.external_id, defaults=fields
    )
    if not created:
        # Citizens rename themselves; keep the latest the platform told us.
        changed = {
            field: value
            for field, value in fields.items()
            if value and getattr(contact, field) != value
        }
        for field, value in changed.items():
            setattr(contact, field, value)
        if changed:
            contact.save(update_fields=[*changed, "updated_at"])
    return contact


def _conversation_for_thread(
    channel: Channel,
    contact: Contact,
    platform_message: PlatformMessage,
    load_router: Callable[[], Router],
) -> tuple[Conversation, bool]:
    """The conversation of the message's thread key, or of the message it answers.

    Platforms without a thread id (Mastodon) give each status its own key; a citizen's
    reply to a message we have (their own, or our reply to them) joins that conversation.
    """
    existing = (
        Conversation.objects.select_for_update()
        .filter(channel=channel, external_thread_id=platform_message.thread_key)
        .first()
    )
    if existing is not None:
        return _surviving_conversation(existing), False
    if platform_message.in_reply_to_external_id:
        parent = (
            Message.objects.filter(
                channel=channel,
                external_id=platform_message.in_reply_to_external_id,
                conversation__contact=contact,
            )
            .select_related("conversation")
            .first()
        )
        if parent is not None:
            parent_conversation = Conversation.objects.select_for_update().get(
                id=parent.conversation_id
            )
            return _surviving_conversation(parent_conversation), False
    sent_at = platform_message.sent_at
    # Routed before the insert, so the row is written once with its team and priority.
    route = load_router().route(
        channel_id=channel.id,
        first_text=platform_message.text,
        contact_category=contact.category,
    )
    conversation, created = Conversation.objects.select_for_update().get_or_create(
        channel=channel,
        external_thread_id=platform_message.thread_key,
        defaults={
            "contact": contact,
            "is_private": platform_message.is_private,
            "status": Conversation.Status.OPEN,
            "first_inbound_at": sent_at,
            "waiting_since": sent_at,
            "last_inbound_at": sent_at,
            "last_activity_at": sent_at,
            "team_id": route.team_id,
            "priority": route.priority,
        },
    )
    if created:
        CareCycle.objects.create(conversation=conversation, number=1, started_at=sent_at)
        conversation_record_route(conversation, route)
    return conversation, created


def _surviving_conversation(conversation: Conversation) -> Conversation:
    """The conversation a merged one lives on in (locked), or the conversation itself."""
    seen = {conversation.id}
    while conversation.merged_into_id is not None and conversation.merged_into_id not in seen:
        seen.add(conversation.merged_into_id)
        conversation = Conversation.objects.select_for_update().get(id=conversation.merged_into_id)
    return conversation


def _conversation_note_inbound(conversation: Conversation, message: Message) -> None:
    """A citizen's message: they wait for us now; a pending, snoozed or resolved conversation
    opens again, and a resolved one starts a new care cycle (docs/architecture.md,
    "Conversation lifecycle")."""
    sent_at = message.sent_at
    previous_status = conversation.status
    reopened = previous_status != Conversation.Status.OPEN
    update_fields = ["waiting_since", "first_inbound_at", "last_inbound_at", "last_activity_at"]
    if reopened:
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
        update_fields += ["status", "snoozed_until"]
    if conversation.waiting_since is None or sent_at < conversation.waiting_since:
        conversation.waiting_since = sent_at
    conversation.first_inbound_at = min(conversation.first_inbound_at, sent_at)
    conversation.last_inbound_at = max(conversation.last_inbound_at, sent_at)
    conversation.last_activity_at = max(conversation.last_activity_at, sent_at)
    care_cycle = None
    if previous_status == Conversation.Status.RESOLVED:
        care_cycle = care_cycle_start(conversation, started_at=sent_at)
        if conversation.assignee_id is not None and not agent_is_available(
            conversation.assignee_id
        ):
            # Back to the queue, where stickiness still prefers this agent once they are back.
            audit(
                "conversation.unassigned",
                conversation_id=conversation.id,
                previous_assignee_id=conversation.assignee_id,
                reason="reopened_while_unavailable",
            )
            conversation.assignee = None
            conversation.assigned_at = None
            update_fields += ["assignee", "assigned_at"]
    conversation.save(update_fields=update_fields)
    if reopened:
        audit(
            "conversation.reopened",
            conversation_id=conversation.id,
            message_id=message.id,
            previous_status=previous_status,
            care_cycle=care_cycle.number if care_cycle else None,
        )


def _ingest_echo(channel: Channel, platform_message: PlatformMessage) -> int:
    """Our own account's message seen in a read: attach it as outbound, never as inbound.

    Either it is a reply of ours whose delivery is still being recorded (match it by thread
    and text), or it was written outside Webcare (e.g. in the X app) under a citizen's
    message we know: then it joins that conversation as an outbound message.
    """
    parent = (
        Message.objects.select_related("conversation")
        .filter(channel=channel, external_id=platform_message.in_reply_to_external_id)
        .first()
        if platform_message.in_reply_to_external_id
        else None
    )
    if parent is None:
        # A broadcast of our own that mentions us, not part of any citizen conversation.
        return 0
    pending = (
        Message.objects.select_for_update()
        .filter(
            conversation=parent.conversation,
            direction=Message.Direction.OUTBOUND,
            # A failed reply whose echo arrives did reach the platform after all (the
            # attempt that gave up had an unknown outcome): the echo completes it.
            delivery_status__in=[
                Message.DeliveryStatus.QUEUED,
                Message.DeliveryStatus.SENDING,
                Message.DeliveryStatus.FAILED,
            ],
            in_reply_to_external_id=platform_message.in_reply_to_external_id,
            text=storable_text(platform_message.text),
        )
        .first()
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
    audit(
        "reply.seen_outside_webcare",
        channel_id=channel.id,
        conversation_id=echo.conversation_id,
        message_id=echo.id,
    )
    conversation_note_response(echo.conversation, echo, responded_at=platform_message.sent_at)
    return 1
