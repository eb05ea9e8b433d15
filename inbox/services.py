"""Every state change of the inbox. Views, tasks and commands call these; nothing else writes.

Each service is one transaction that also writes its audit event, and sends side effects
(Celery tasks) only after commit, so a rolled-back change never triggers work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.base import FetchResult, PlatformMessage, RejectedItem, SentReply
from channels.models import Channel, QuarantinedItem
from inbox import canned
from inbox.models import (
    AgentProfile,
    AuditEvent,
    CannedResponse,
    Contact,
    Conversation,
    Message,
)
from inbox.selectors import private_reply_window, reply_signature
from inbox.signatures import signed
from inbox.text import storable_attachments, storable_json, storable_text

logger = logging.getLogger(__name__)

# How many waiting conversations one assignment run hands out; the sweep picks up the rest.
ASSIGNMENT_BATCH_SIZE = 200
MAX_DELIVERY_ATTEMPTS = 6


class ServiceError(Exception):
    """A request that cannot be carried out; the message is shown to the user."""


def audit(
    action: str,
    *,
    actor: User | None = None,
    channel_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    **data: Any,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        channel_id=channel_id,
        conversation_id=conversation_id,
        message_id=message_id,
        data=data,
    )


# --- ingest ------------------------------------------------------------------------------


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
    channel = Channel.objects.select_for_update().get(id=channel_id)
    external_ids = [message.external_id for message in fetched.messages]
    already_stored = set(
        Message.objects.filter(channel=channel, external_id__in=external_ids).values_list(
            "external_id", flat=True
        )
    )
    contacts: dict[str, Contact] = {}
    conversations: dict[str, Conversation] = {}
    new_messages = new_conversations = echoes = 0
    needs_assignment = False
    now = timezone.now()

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
            conversation, created = _conversation_for_thread(channel, contact, platform_message)
            conversations[platform_message.thread_key] = conversation
            if created:
                new_conversations += 1
                audit(
                    "conversation.created", channel_id=channel.id, conversation_id=conversation.id
                )

        message = Message.objects.create(
            conversation=conversation,
            channel=channel,
            direction=Message.Direction.INBOUND,
            external_id=platform_message.external_id,
            in_reply_to_external_id=platform_message.in_reply_to_external_id,
            author_contact=contact,
            text=storable_text(platform_message.text),
            is_private=platform_message.is_private,
            attachments=storable_attachments(platform_message.attachments),
            sent_at=platform_message.sent_at,
            raw=storable_json(platform_message.raw),
        )
        new_messages += 1
        _conversation_note_inbound(conversation, message)
        if conversation.assignee_id is None:
            needs_assignment = True

    quarantined_keys = {_quarantine_key(rejected): rejected for rejected in fetched.rejected}
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
            _enqueue_assignment()
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
        _enqueue_assignment()
    return IngestResult(new_messages, new_conversations, echoes, newly_quarantined)


def _contact_upsert(channel: Channel, platform_message: PlatformMessage) -> Contact:
    author = platform_message.author
    contact, created = Contact.objects.get_or_create(
        channel=channel,
        external_id=author.external_id,
        defaults={
            "username": storable_text(author.username),
            "display_name": storable_text(author.display_name),
            "avatar_url": author.avatar_url,
        },
    )
    if not created:
        # Citizens rename themselves; keep the latest the platform told us.
        changed = {
            field: value
            for field, value in (
                ("username", storable_text(author.username)),
                ("display_name", storable_text(author.display_name)),
                ("avatar_url", author.avatar_url),
            )
            if value and getattr(contact, field) != value
        }
        for field, value in changed.items():
            setattr(contact, field, value)
        if changed:
            contact.save(update_fields=[*changed, "updated_at"])
    return contact


def _conversation_for_thread(
    channel: Channel, contact: Contact, platform_message: PlatformMessage
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
        return existing, False
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
            return Conversation.objects.select_for_update().get(id=parent.conversation_id), False
    sent_at = platform_message.sent_at
    conversation, created = Conversation.objects.select_for_update().get_or_create(
        channel=channel,
        external_thread_id=platform_message.thread_key,
        defaults={
            "contact": contact,
            "is_private": platform_message.is_private,
            "status": Conversation.Status.WAITING,
            "first_inbound_at": sent_at,
            "waiting_since": sent_at,
            "last_inbound_at": sent_at,
            "last_activity_at": sent_at,
        },
    )
    return conversation, created


def _conversation_note_inbound(conversation: Conversation, message: Message) -> None:
    sent_at = message.sent_at
    reopened = conversation.status != Conversation.Status.WAITING
    if reopened:
        conversation.status = Conversation.Status.WAITING
        conversation.waiting_since = sent_at
    elif conversation.waiting_since is None or sent_at < conversation.waiting_since:
        conversation.waiting_since = sent_at
    conversation.first_inbound_at = min(conversation.first_inbound_at, sent_at)
    conversation.last_inbound_at = max(conversation.last_inbound_at, sent_at)
    conversation.last_activity_at = max(conversation.last_activity_at, sent_at)
    conversation.save(
        update_fields=[
            "status",
            "waiting_since",
            "first_inbound_at",
            "last_inbound_at",
            "last_activity_at",
        ]
    )
    if reopened:
        audit("conversation.reopened", conversation_id=conversation.id, message_id=message.id)


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
            delivery_status__in=[Message.DeliveryStatus.QUEUED, Message.DeliveryStatus.SENDING],
            in_reply_to_external_id=platform_message.in_reply_to_external_id,
            text=storable_text(platform_message.text),
        )
        .first()
    )
    if pending is not None:
        _reply_record_delivery(
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
    _conversation_note_response(echo.conversation, echo, responded_at=platform_message.sent_at)
    return 1


# --- assignment ----------------------------------------------------------------------------


def _enqueue_assignment() -> None:
    from inbox.tasks import assign_waiting

    transaction.on_commit(assign_waiting.delay)


@transaction.atomic
def conversations_assign_waiting() -> int:
    """Hand waiting, unassigned conversations to on-duty agents: oldest first, round robin.

    Agent rows are locked (not skipped) so concurrent runs take turns and the round robin
    stays fair; conversation rows are skipped when locked, so a conversation that an agent
    is taking right now is never assigned twice.
    """
    agents = deque(
        AgentProfile.objects.select_for_update()
        .filter(is_on_duty=True, user__is_active=True)
        .select_related("user")
        .order_by(F("last_assigned_at").asc(nulls_first=True), "id")
    )
    if not agents:
        return 0
    waiting = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Conversation.Status.WAITING, assignee__isnull=True)
        .order_by("waiting_since", "id")[:ASSIGNMENT_BATCH_SIZE]
    )
    now = timezone.now()
    for offset, conversation in enumerate(waiting):
        agent = agents.popleft()
        conversation.assignee = agent.user
        conversation.assigned_at = now
        conversation.save(update_fields=["assignee", "assigned_at"])
        # Microsecond steps keep the round-robin order exact within one run.
        agent.last_assigned_at = now + timedelta(microseconds=offset)
        agent.save(update_fields=["last_assigned_at"])
        agents.append(agent)
        audit(
            "conversation.assigned",
            conversation_id=conversation.id,
            assignee_id=agent.user_id,
            reason="round_robin",
        )
    return len(waiting)


@transaction.atomic
def conversation_take(*, conversation_id: int, actor: User) -> Conversation:
    """An agent takes an unassigned conversation from the queue."""
    updated = Conversation.objects.filter(id=conversation_id, assignee__isnull=True).update(
        assignee=actor, assigned_at=timezone.now()
    )
    conversation = Conversation.objects.get(id=conversation_id)
    if not updated:
        if conversation.assignee_id == actor.pk:
            return conversation
        raise ServiceError(_("A colleague has this conversation already."))
    audit(
        "conversation.assigned",
        actor=actor,
        conversation_id=conversation.id,
        assignee_id=actor.pk,
        reason="taken",
    )
    return conversation


@transaction.atomic
def agent_set_on_duty(*, actor: User, on_duty: bool) -> AgentProfile:
    profile = AgentProfile.objects.select_for_update().get(user=actor)
    if profile.is_on_duty == on_duty:
        return profile
    profile.is_on_duty = on_duty
    profile.save(update_fields=["is_on_duty"])
    audit("agent.on_duty" if on_duty else "agent.off_duty", actor=actor)
    if on_duty:
        _enqueue_assignment()
    return profile


# --- replies -------------------------------------------------------------------------------


def reply_create(
    *,
    conversation_id: int,
    actor: User,
    text: str,
    idempotency_key: uuid.UUID,
    private: bool = False,
) -> Message:
    """Queue a reply for delivery. The same idempotency key always yields the same reply.

    `private` asks for a direct message in a public conversation; a private conversation
    is always answered privately.
    """
    from channels.registry import reply_rules

    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    text = text.strip()
    if not text:
        raise ServiceError(_("Write a reply first."))
    conversation = Conversation.objects.select_related("channel", "contact").get(id=conversation_id)
    conversation_is_private = conversation.is_private
    private = private or conversation_is_private
    rules = reply_rules(conversation.channel)
    # Signed before counting: the signature is part of what the platform receives.
    text = signed(text, reply_signature(conversation, actor))
    if rules.addressed is not None:
        text = rules.addressed(text, conversation.contact.username)
    if private and not conversation_is_private and not rules.supports_private:
        raise ServiceError(_("This channel cannot answer a public message privately."))
    if private and not private_reply_window(conversation, now=timezone.now()).is_open:
        if not conversation_is_private:
            raise ServiceError(
                _(
                    "This public message is too old to answer privately: Facebook allows a "
                    "private reply to a comment only within 7 days of it. Answer publicly, "
                    "or ask the citizen to send a private message."
                )
            )
        raise ServiceError(
            _(
                "The citizen's last message is too old for a private reply: Facebook accepts "
                "one only within 24 hours of it (7 days for a page with the Human Agent "
                "permission). It can be sent once they write again."
            )
        )
    length = rules.measure(text)
    limit = rules.limit(private=private)
    if length > limit:
        raise ServiceError(
            _("This reply counts %(length)d characters on the platform; it allows %(max)d.")
            % {"length": length, "max": limit}
        )
    try:
        return _reply_create(conversation_id, actor, text, idempotency_key, private)
    except IntegrityError:
        # A double-submitted form raced us to the insert: the other request's row stands.
        return Message.objects.get(idempotency_key=idempotency_key)


@transaction.atomic
def _reply_create(
    conversation_id: int, actor: User, text: str, idempotency_key: uuid.UUID, private: bool
) -> Message:
    conversation = Conversation.objects.select_for_update().get(id=conversation_id)
    last_inbound = (
        conversation.messages.filter(direction=Message.Direction.INBOUND)
        .order_by("-sent_at", "-id")
        .first()
    )
    if last_inbound is None:
        raise ServiceError(_("This conversation has no message to reply to."))
    now = timezone.now()
    message = Message.objects.create(
        conversation=conversation,
        channel_id=conversation.channel_id,
        direction=Message.Direction.OUTBOUND,
        in_reply_to_external_id=last_inbound.external_id or "",
        author_user=actor,
        text=text,
        is_private=private,
        sent_at=now,
        delivery_status=Message.DeliveryStatus.QUEUED,
        next_attempt_at=now,
        idempotency_key=idempotency_key,
    )
    update_fields = ["last_activity_at"]
    conversation.last_activity_at = now
    if conversation.assignee_id is None:
        # Answering an unassigned conversation takes it, so nobody else picks it up.
        conversation.assignee = actor
        conversation.assigned_at = now
        update_fields += ["assignee", "assigned_at"]
        audit(
            "conversation.assigned",
            actor=actor,
            conversation_id=conversation.id,
            assignee_id=actor.pk,
            reason="replied",
        )
    conversation.save(update_fields=update_fields)
    audit(
        "reply.queued",
        actor=actor,
        conversation_id=conversation.id,
        message_id=message.id,
        private=private,
    )
    _enqueue_delivery(message.id)
    return message


def _requeue(message: Message, *, countdown: float = 0, error: str | None = None) -> None:
    message.delivery_status = Message.DeliveryStatus.QUEUED
    message.next_attempt_at = timezone.now() + timedelta(seconds=countdown)
    update_fields = ["delivery_status", "next_attempt_at"]
    if error is not None:
        message.delivery_error = error
        update_fields.append("delivery_error")
    message.save(update_fields=update_fields)
    _enqueue_delivery(message.id, countdown=countdown)


def _enqueue_delivery(message_id: int, *, countdown: float = 0) -> None:
    from inbox.tasks import send_reply

    transaction.on_commit(lambda: send_reply.apply_async((message_id,), countdown=countdown))


def reply_claim_for_sending(*, message_id: int) -> Message | None:
    """Claim a queued reply for one delivery attempt; None if someone else has it or it's done.

    A conditional update, so two workers given the same task never both post it.
    """
    claimed = Message.objects.filter(
        id=message_id, delivery_status=Message.DeliveryStatus.QUEUED
    ).update(
        delivery_status=Message.DeliveryStatus.SENDING,
        sending_started_at=timezone.now(),
        delivery_attempts=F("delivery_attempts") + 1,
    )
    if not claimed:
        return None
    return Message.objects.select_related("channel", "conversation__contact").get(id=message_id)


@transaction.atomic
def reply_mark_sent(*, message_id: int, sent: SentReply, via: str = "send") -> Message:
    message = Message.objects.select_for_update().get(id=message_id)
    if message.delivery_status == Message.DeliveryStatus.SENT:
        return message
    # The poller (or a webhook) may have stored our reply as a reply made outside Webcare
    # before we got here: it is this reply, so that copy goes and the log says so.
    echo_copies = Message.objects.filter(
        channel_id=message.channel_id, external_id=sent.external_id, idempotency_key__isnull=True
    ).exclude(id=message.id)
    for echo_id in echo_copies.values_list("id", flat=True):
        audit(
            "reply.echo_merged",
            conversation_id=message.conversation_id,
            message_id=message.id,
            echo_message_id=echo_id,
            external_id=sent.external_id,
        )
    echo_copies.delete()
    _reply_record_delivery(message, sent, via=via)
    return message


def _reply_record_delivery(message: Message, sent: SentReply, *, via: str) -> None:
    now = timezone.now()
    message.delivery_status = Message.DeliveryStatus.SENT
    message.external_id = sent.external_id
    message.delivered_at = now
    message.delivery_error = ""
    message.raw = sent.raw
    message.save(
        update_fields=["delivery_status", "external_id", "delivered_at", "delivery_error", "raw"]
    )
    audit(
        "reply.sent",
        conversation_id=message.conversation_id,
        message_id=message.id,
        external_id=sent.external_id,
        via=via,
        attempts=message.delivery_attempts,
    )
    _conversation_note_response(message.conversation, message, responded_at=now)


def _conversation_note_response(
    conversation: Conversation, reply: Message, *, responded_at: datetime
) -> None:
    conversation = Conversation.objects.select_for_update().get(id=conversation.id)
    update_fields = ["last_activity_at"]
    conversation.last_activity_at = max(conversation.last_activity_at, responded_at)
    if conversation.first_response_at is None:
        conversation.first_response_at = responded_at
        update_fields.append("first_response_at")
    # Answered only if the citizen has not written again since the agent composed the reply.
    if (
        conversation.status == Conversation.Status.WAITING
        and conversation.last_inbound_at <= reply.sent_at
    ):
        conversation.status = Conversation.Status.ANSWERED
        conversation.waiting_since = None
        update_fields += ["status", "waiting_since"]
    conversation.save(update_fields=update_fields)


@transaction.atomic
def reply_schedule_retry(*, message_id: int, error: str, retry_after: float | None) -> bool:
    """Put a reply back in the queue after a transient failure; False once attempts ran out."""
    message = Message.objects.select_for_update().get(id=message_id)
    if message.delivery_status != Message.DeliveryStatus.SENDING:
        return True
    if message.delivery_attempts >= MAX_DELIVERY_ATTEMPTS:
        _reply_fail(
            message,
            f"Gave up after {message.delivery_attempts} attempts. Last error: {error}",
        )
        return False
    backoff = retry_after if retry_after is not None else 10 * 2 ** (message.delivery_attempts - 1)
    backoff = min(backoff, 15 * 60)
    _requeue(message, countdown=backoff, error=error)
    audit(
        "reply.retry_scheduled",
        conversation_id=message.conversation_id,
        message_id=message.id,
        error=error,
        retry_in_seconds=backoff,
        attempts=message.delivery_attempts,
    )
    return True


@transaction.atomic
def reply_mark_failed(*, message_id: int, error: str) -> Message:
    message = Message.objects.select_for_update().get(id=message_id)
    if message.delivery_status in {Message.DeliveryStatus.SENT, Message.DeliveryStatus.FAILED}:
        return message
    _reply_fail(message, error)
    return message


def _reply_fail(message: Message, error: str) -> None:
    message.delivery_status = Message.DeliveryStatus.FAILED
    message.delivery_error = error
    message.save(update_fields=["delivery_status", "delivery_error"])
    audit(
        "reply.failed", conversation_id=message.conversation_id, message_id=message.id, error=error
    )


@transaction.atomic
def reply_retry(*, message_id: int, actor: User) -> Message:
    """An agent sends a failed reply again. Delivery first checks it did not arrive after all."""
    message = Message.objects.select_for_update().get(id=message_id)
    if message.delivery_status != Message.DeliveryStatus.FAILED:
        raise ServiceError(_("Only a failed reply can be sent again."))
    _requeue(message)
    audit(
        "reply.retry_requested",
        actor=actor,
        conversation_id=message.conversation_id,
        message_id=message.id,
    )
    return message


@transaction.atomic
def replies_recover_stuck() -> int:
    """Requeue replies whose delivery task was lost: a worker died mid-send, or the broker
    was unreachable when the reply was queued. The next attempt checks the platform first,
    so recovering a reply that did get posted does not post it twice.
    """
    now = timezone.now()
    stuck_sending = Q(
        delivery_status=Message.DeliveryStatus.SENDING,
        sending_started_at__lt=now - timedelta(seconds=settings.WEBCARE_STUCK_SENDING_SECONDS),
    )
    # A queued reply whose task should have run minutes ago but never did.
    forgotten_queued = Q(
        delivery_status=Message.DeliveryStatus.QUEUED,
        next_attempt_at__lt=now - timedelta(seconds=settings.WEBCARE_STUCK_SENDING_SECONDS),
    )
    recovered = list(
        Message.objects.select_for_update(skip_locked=True).filter(stuck_sending | forgotten_queued)
    )
    for message in recovered:
        audit(
            "reply.recovered",
            conversation_id=message.conversation_id,
            message_id=message.id,
            previous_status=message.delivery_status,
        )
        _requeue(message)
    return len(recovered)


def reply_deliver(*, message_id: int) -> None:
    """One delivery attempt of a queued reply (the `inbox.send_reply` task).

    Runs outside a transaction: the platform call must not hold database locks. Before any
    attempt after the first, it looks on the platform for the reply, because an earlier
    attempt may have been posted without us hearing back (docs/architecture.md, "Replies").
    """
    from channels.base import ConnectorError, PlatformAuthor, RateLimited, ReplyTarget
    from channels.registry import get_connector

    message = reply_claim_for_sending(message_id=message_id)
    if message is None:
        return
    contact = message.conversation.contact
    target = ReplyTarget(
        in_reply_to_external_id=message.in_reply_to_external_id,
        recipient=PlatformAuthor(
            external_id=contact.external_id,
            username=contact.username,
            display_name=contact.display_name,
        ),
        thread_key=message.conversation.external_thread_id,
        private=message.is_private,
        # Decided at sending time: a reply queued just inside 24 hours may go out after.
        message_tag=private_reply_window(message.conversation, now=timezone.now()).message_tag
        if message.is_private
        else "",
    )
    try:
        connector = get_connector(message.channel)
        if message.delivery_attempts > 1:
            found = connector.find_reply(
                text=message.text, target=target, not_before=message.sent_at
            )
            if found is not None:
                reply_mark_sent(message_id=message.id, sent=found, via="found_on_platform")
                return
        sent = connector.send_reply(text=message.text, target=target)
    except ConnectorError as error:
        if error.transient:
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            reply_schedule_retry(message_id=message.id, error=str(error), retry_after=retry_after)
        else:
            reply_mark_failed(message_id=message.id, error=str(error))
        return
    except Exception as error:
        # A bug or an outage of our own: retry (which checks the platform first) and let
        # the worker log the traceback.
        reply_schedule_retry(
            message_id=message.id, error=f"Internal error: {error!r}", retry_after=None
        )
        raise
    reply_mark_sent(message_id=message.id, sent=sent)


# --- staff ---------------------------------------------------------------------------------


@transaction.atomic
def staff_member_create(
    *,
    username: str,
    password: str,
    role: str = AgentProfile.Role.AGENT,
    first_name: str = "",
    last_name: str = "",
    on_duty: bool = False,
    actor: User | None = None,
) -> AgentProfile:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=username, password=password, first_name=first_name, last_name=last_name
    )
    profile = AgentProfile.objects.create(user=user, role=role, is_on_duty=on_duty)
    audit("staff.created", actor=actor, user_id=user.pk, role=role)
    if on_duty:
        _enqueue_assignment()
    return profile


# --- canned responses ----------------------------------------------------------------------


def _canned_response_check_access(actor: User, *, owner: User | None) -> None:
    """Team leads manage the shared responses; every team member their own personal ones."""
    profile = AgentProfile.objects.filter(user=actor).first()
    if profile is None:
        raise PermissionDenied(_("Your account is not part of the webcare team."))
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
    *, actor: User, shortcut: str, title: str, text: str, shared: bool
) -> CannedResponse:
    owner = None if shared else actor
    _canned_response_check_access(actor, owner=owner)
    _canned_response_check_unique(shortcut=shortcut, owner=owner)
    response = CannedResponse.objects.create(
        shortcut=shortcut, title=title, text=text, owner=owner, created_by=actor
    )
    audit(
        "canned_response.created",
        actor=actor,
        canned_response_id=response.pk,
        shortcut=shortcut,
        shared=shared,
    )
    return response


@transaction.atomic
def canned_response_update(
    *, actor: User, canned_response_id: int, shortcut: str, title: str, text: str
) -> CannedResponse:
    response = CannedResponse.objects.select_for_update().get(pk=canned_response_id)
    _canned_response_check_access(actor, owner=response.owner)
    _canned_response_check_unique(shortcut=shortcut, owner=response.owner, exclude_id=response.pk)
    response.shortcut, response.title, response.text = shortcut, title, text
    response.save(update_fields=["shortcut", "title", "text", "updated_at"])
    audit(
        "canned_response.updated",
        actor=actor,
        canned_response_id=response.pk,
        shortcut=shortcut,
        shared=response.is_shared,
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
