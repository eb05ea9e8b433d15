"""Outbound replies: the outbox from the composer to the platform, exactly once."""

from __future__ import annotations

import logging
import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from channels.base import SentReply
from inbox import personal_data
from inbox.guards import personal_data_found
from inbox.models import (
    CareCycle,
    Conversation,
    Message,
)
from inbox.selectors import private_reply_window, reply_signature
from inbox.services.common import ServiceError, audit, task_send_on_commit
from inbox.signatures import signed

if TYPE_CHECKING:
    from channels.registry import ReplyRules

logger = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 6
# The least wait before looking for a reply whose outcome was unknown (reply_schedule_retry).
UNKNOWN_OUTCOME_MIN_BACKOFF_SECONDS = 30


class NewerMessagesSinceOpened(ServiceError):
    """Messages arrived in the conversation after the agent opened it: the reply may not fit
    any more. Sending it anyway needs `confirmed_despite_newer` (the API answers 409)."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(
            ngettext(
                "A new message arrived in this conversation since you opened it. Read it "
                "first; if your reply still fits, confirm that you want to send it anyway.",
                "%(count)d new messages arrived in this conversation since you opened it. "
                "Read them first; if your reply still fits, confirm that you want to send it "
                "anyway.",
                count,
            )
            % {"count": count}
        )


PERSONAL_DATA_LABELS = {
    personal_data.BSN: gettext_lazy("looks like a BSN (citizen service number)"),
    personal_data.PHONE: gettext_lazy("looks like a phone number"),
    personal_data.EMAIL: gettext_lazy("looks like an e-mail address"),
    personal_data.POSTCODE: gettext_lazy("looks like a postcode"),
    personal_data.ADDRESS: gettext_lazy("looks like a street address"),
    personal_data.IBAN: gettext_lazy("looks like a bank account number (IBAN)"),
}


# The shortest reason accepted for sending personal data in public anyway: "eigen nummer"
# passes, "ok" does not.
MIN_PERSONAL_DATA_REASON = 5


class PersonalDataInPublicReply(ServiceError):
    """A public reply with text that looks like personal data (inbox/personal_data.py):
    everyone could read it, for good. Sending it anyway needs `confirmed_personal_data`
    and a `personal_data_reason` (the composer's "Send anyway" checkbox and reason; the API
    answers 409 `personal_data`)."""

    code = "personal_data"

    def __init__(self, findings: list[personal_data.Finding]) -> None:
        self.findings = findings
        found = "; ".join(
            f"{PERSONAL_DATA_LABELS[finding.kind]}: {finding.shown}" for finding in findings
        )
        super().__init__(
            _(
                "This public reply may contain personal data (%(found)s). Everyone can read "
                "a public reply. Remove it, reply privately, or confirm that it is not "
                "personal data or that the citizen published it themselves, and say why."
            )
            % {"found": found}
        )


class PersonalDataReasonMissing(PersonalDataInPublicReply):
    """Confirmed without saying why (or too briefly): the reason goes into the audit trail."""

    def __init__(self, findings: list[personal_data.Finding]) -> None:
        self.findings = findings
        ServiceError.__init__(
            self,
            _(
                "Say why this public reply may contain this data (at least %(count)d "
                "characters), e.g. “the citizen published it themselves” or “it is the "
                "municipality's own number”."
            )
            % {"count": MIN_PERSONAL_DATA_REASON},
        )


def reply_create(
    *,
    conversation_id: int,
    actor: User,
    text: str,
    idempotency_key: uuid.UUID,
    private: bool = False,
    seen_message_id: int | None = None,
    confirmed_despite_newer: bool = False,
    confirmed_personal_data: bool = False,
    personal_data_reason: str = "",
) -> Message:
    """Queue a reply for delivery. The same idempotency key always yields the same reply.

    `private` asks for a direct message in a public conversation; a private conversation
    is always answered privately.

    A trainee's reply, or one with a flagged word, waits for a team lead instead of being
    queued (four-eyes, inbox/services/approval.py).

    `seen_message_id` is the newest message the agent saw when the composer was rendered:
    if a citizen or a colleague wrote after it, NewerMessagesSinceOpened is raised unless
    `confirmed_despite_newer` (collision detection, docs/architecture.md).

    A public reply whose text looks like personal data (inbox/personal_data.py) raises
    PersonalDataInPublicReply unless `confirmed_personal_data` with a
    `personal_data_reason` of at least MIN_PERSONAL_DATA_REASON characters
    (PersonalDataReasonMissing otherwise); the confirmed kinds and the reason (staff's words
    about the reply, never the data found) are kept in the reply's audit event. The
    municipality's own public contact details are not flagged (inbox/guards.py). Private
    replies are not checked.
    """
    from channels.registry import reply_rules
    from inbox.services.approval import approval_reason_for

    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    # NFC, as X stores it: what we keep (and compare in find_reply) is what the platform shows.
    text = unicodedata.normalize("NFC", text.strip())
    if not text:
        raise ServiceError(_("Write a reply first."))
    conversation = Conversation.objects.select_related("channel", "contact").get(id=conversation_id)
    if conversation.anonymised_at is not None:
        # Its platform ids went with the rest (services/privacy.py): nothing to answer to.
        raise ServiceError(
            _(
                "This conversation was anonymised under the retention policy or at the "
                "citizen's request. It can no longer be answered."
            )
        )
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
    found = [] if private else personal_data_found(text)
    personal_data_reason = personal_data_reason.strip()
    if found and not confirmed_personal_data:
        raise PersonalDataInPublicReply(found)
    if found and len(personal_data_reason) < MIN_PERSONAL_DATA_REASON:
        raise PersonalDataReasonMissing(found)
    reply_check_length(rules, text, private=private)
    approval_reason = approval_reason_for(actor=actor, text=text)
    try:
        return _reply_create(
            conversation_id,
            actor,
            text,
            idempotency_key,
            private,
            approval_reason=approval_reason,
            seen_message_id=None if confirmed_despite_newer else seen_message_id,
            personal_data_confirmed=personal_data.kinds_found(found),
            personal_data_reason=personal_data_reason if found else "",
        )
    except IntegrityError:
        # A double-submitted form raced us to the insert: the other request's row stands.
        return Message.objects.get(idempotency_key=idempotency_key)


def _confirmed(kinds: list[str], reason: str) -> dict[str, Any]:
    """Audit data of a public reply sent despite the personal data warning: the kinds and
    the agent's reason, never the data itself."""
    return {"personal_data_confirmed": kinds, "personal_data_reason": reason} if kinds else {}


def reply_check_length(rules: ReplyRules, text: str, *, private: bool) -> None:
    """Refuse a text longer than the platform accepts, counted the way the platform counts."""
    length = rules.measure(text)
    limit = rules.limit(private=private)
    if length > limit:
        raise ServiceError(
            _("This reply counts %(length)d characters on the platform; it allows %(max)d.")
            % {"length": length, "max": limit}
        )


@transaction.atomic
def _reply_create(
    conversation_id: int,
    actor: User,
    text: str,
    idempotency_key: uuid.UUID,
    private: bool,
    *,
    approval_reason: str,
    seen_message_id: int | None,
    personal_data_confirmed: list[str],
    personal_data_reason: str = "",
) -> Message:
    from inbox.selectors.approval import messages_since_seen

    # The lock also serialises two agents replying at once: the second sees the first's
    # reply as newer than what it saw.
    conversation = Conversation.objects.select_for_update().get(id=conversation_id)
    if seen_message_id is not None:
        newer = messages_since_seen(
            conversation_id=conversation.id, seen_message_id=seen_message_id, viewer_id=actor.pk
        ).count()
        if newer:
            raise NewerMessagesSinceOpened(newer)
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
        # Awaiting approval: no attempt is due until a team lead approves it.
        delivery_status=(
            Message.DeliveryStatus.AWAITING_APPROVAL
            if approval_reason
            else Message.DeliveryStatus.QUEUED
        ),
        next_attempt_at=None if approval_reason else now,
        approval_reason=approval_reason,
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
    if approval_reason:
        # Not delivered, so the citizen still waits: waiting_since stays as it is.
        audit(
            "reply.awaiting_approval",
            actor=actor,
            conversation_id=conversation.id,
            message_id=message.id,
            private=private,
            reason=approval_reason,
            **_confirmed(personal_data_confirmed, personal_data_reason),
        )
        return message
    audit(
        "reply.queued",
        actor=actor,
        conversation_id=conversation.id,
        message_id=message.id,
        private=private,
        **_confirmed(personal_data_confirmed, personal_data_reason),
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

    # The reply is committed as queued with its due time: with the broker down,
    # `inbox.recover_stuck_replies` sends it once the broker is back.
    task_send_on_commit(
        send_reply, message_id, countdown=countdown, otherwise="inbox.recover_stuck_replies"
    )


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
    """Record that the platform holds this reply under `sent.external_id`.

    Safe to call twice, and after an echo completed the reply: the first record stands. A
    second, different platform id means the reply is on the platform twice (an attempt
    overlapped one presumed dead): that is recorded for people to see, never ignored.
    """
    message = Message.objects.select_for_update().get(id=message_id)
    if message.delivery_status == Message.DeliveryStatus.SENT:
        if sent.external_id != message.external_id:
            logger.error(
                "reply %s is on the platform twice: %s and %s",
                message.id,
                message.external_id,
                sent.external_id,
            )
            audit(
                "reply.duplicate_posted",
                conversation_id=message.conversation_id,
                message_id=message.id,
                external_id=message.external_id,
                duplicate_external_id=sent.external_id,
                via=via,
            )
        return message
    taken_by = (
        Message.objects.filter(channel_id=message.channel_id, external_id=sent.external_id)
        .exclude(id=message.id)
        .exclude(idempotency_key__isnull=True)
        .values_list("id", flat=True)
        .first()
    )
    if taken_by is not None:
        # The platform named a post that is already another reply of ours. Recording it
        # here would break the unique key and retry forever; say so where the agent looks.
        _reply_fail(
            message,
            f"The platform answered with post {sent.external_id}, which is another reply "
            f"(message {taken_by}). Check the platform before sending this one again.",
        )
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
    reply_record_delivery(message, sent, via=via)
    return message


def reply_record_delivery(message: Message, sent: SentReply, *, via: str) -> None:
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
    conversation_note_response(message.conversation, message, responded_at=now)


def conversation_note_response(
    conversation: Conversation, reply: Message, *, responded_at: datetime
) -> None:
    """Our reply reached the platform: the first response of the conversation and of its
    current care cycle, and the citizen no longer waits, unless they wrote again after
    the agent composed the reply. The status stays: pending and resolved are the agent's
    choice."""
    conversation = Conversation.objects.select_for_update().get(id=conversation.id)
    update_fields = ["last_activity_at"]
    conversation.last_activity_at = max(conversation.last_activity_at, responded_at)
    if conversation.first_response_at is None:
        conversation.first_response_at = responded_at
        update_fields.append("first_response_at")
    CareCycle.objects.filter(
        conversation=conversation,
        resolved_at__isnull=True,
        first_response_at__isnull=True,
        started_at__lte=reply.sent_at,
    ).update(first_response_at=responded_at)
    if conversation.waiting_since is not None and conversation.waiting_since <= reply.sent_at:
        # The reply answers what the citizen wrote before the agent pressed send; a message
        # that came in meanwhile is unanswered, and the wait runs from it (the wait facts of
        # docs/metrics.md count it the same way).
        conversation.waiting_since = (
            None
            if conversation.last_inbound_at <= reply.sent_at
            else conversation.messages.filter(
                direction=Message.Direction.INBOUND, sent_at__gt=reply.sent_at
            )
            .order_by("sent_at")
            .values_list("sent_at", flat=True)
            .first()
        )
        update_fields.append("waiting_since")
    conversation.save(update_fields=update_fields)


@transaction.atomic
def reply_schedule_retry(
    *, message_id: int, error: str, retry_after: float | None, outcome_unknown: bool = False
) -> bool:
    """Put a reply back in the queue after a transient failure; False once attempts ran out.

    `outcome_unknown`: the failed attempt may have been posted (`DeliveryUnknown`). The next
    attempt looks first; when there is none, the failure says to check the platform.
    """
    message = Message.objects.select_for_update().get(id=message_id)
    if message.delivery_status != Message.DeliveryStatus.SENDING:
        return True
    if message.delivery_attempts >= MAX_DELIVERY_ATTEMPTS:
        _reply_fail(
            message,
            f"Gave up after {message.delivery_attempts} attempts. Last error: {error}"
            + (
                " The last attempt may have reached the platform: check there. "
                "Try again looks for it on the platform before posting."
                if outcome_unknown
                else ""
            ),
        )
        return False
    backoff = retry_after if retry_after is not None else 10 * 2 ** (message.delivery_attempts - 1)
    if outcome_unknown:
        # The next attempt looks for this one on the platform first; give the platform time
        # to show what it may have just posted (timelines lag a little behind a POST).
        backoff = max(backoff, UNKNOWN_OUTCOME_MIN_BACKOFF_SECONDS)
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


def _other_replies_on_platform(message: Message) -> set[str]:
    """Platform ids of the conversation's other replies sent from Webcare: find_reply must
    not take an identical earlier reply for this one."""
    recorded = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            direction=Message.Direction.OUTBOUND,
            external_id__isnull=False,
            # Ours only: a copy stored from a poll as written outside Webcare may be this
            # very reply (reply_mark_sent merges it), so it must stay findable.
            idempotency_key__isnull=False,
        )
        .exclude(id=message.id)
        .values_list("external_id", flat=True)
    )
    return {external_id for external_id in recorded if external_id}


def reply_deliver(*, message_id: int) -> None:
    """One delivery attempt of a queued reply (the `inbox.send_reply` task).

    Runs outside a transaction: the platform call must not hold database locks. Before any
    attempt after the first, it looks on the platform for the reply, because an earlier
    attempt may have been posted without us hearing back (docs/architecture.md,
    "Exactly-once replies").
    """
    from channels.base import (
        ConnectorError,
        DeliveryUnknown,
        MalformedResponse,
        PlatformAuthor,
        RateLimited,
        ReplyTarget,
    )
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
        reply_key=str(message.idempotency_key or message.id),
    )
    looking = message.delivery_attempts > 1
    try:
        connector = get_connector(message.channel)
        if looking:
            found = connector.find_reply(
                text=message.text,
                target=target,
                not_before=message.sent_at,
                skip_ids=_other_replies_on_platform(message),
            )
            if found is not None:
                reply_mark_sent(message_id=message.id, sent=found, via="found_on_platform")
                return
            looking = False
        sent = connector.send_reply(text=message.text, target=target)
    except ConnectorError as error:
        # A cut-off answer to the look is usually a passing fault (found by the chaos suite):
        # look again rather than fail a reply that may well have arrived.
        if error.transient or (looking and isinstance(error, MalformedResponse)):
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            reply_schedule_retry(
                message_id=message.id,
                error=str(error),
                retry_after=retry_after,
                # Also when looking failed: an earlier attempt's outcome is still unknown.
                outcome_unknown=looking or isinstance(error, DeliveryUnknown),
            )
        elif looking:
            # Revoked credentials, a deleted post …: we could not check whether an earlier
            # attempt arrived, so the agent must not take "failed" for "not posted".
            reply_mark_failed(
                message_id=message.id,
                error=f"Could not check on the platform whether an earlier attempt arrived: "
                f"{error} Check there before trying again; Try again looks first.",
            )
        elif message.delivery_attempts > 1:
            # Refused now, but an earlier attempt did not finish: X's "duplicate content" or
            # Facebook's "already replied" may well mean that attempt arrived.
            reply_mark_failed(
                message_id=message.id,
                error=f"{error} An earlier attempt of this reply did not finish and may be on "
                "the platform already: check there before trying again.",
            )
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
