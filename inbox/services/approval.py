"""Four-eyes approval: a trainee's reply, or any reply with a flagged word, waits for a team
lead, who approves it (possibly edited), or rejects it with feedback
(docs/architecture.md, "Four-eyes approval and collision detection").

`reply_create` asks `approval_reason_for` and stores such a reply as `awaiting_approval`
without a delivery task; approving queues it like any other reply.
"""

from __future__ import annotations

import re
import unicodedata

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.models import AgentProfile, FlaggedWord, Message
from inbox.selectors import private_reply_window
from inbox.selectors.approval import REASON_FLAGGED_PREFIX, REASON_IN_TRAINING, REASON_SEPARATOR
from inbox.services.assignment import team_lead_or_denied
from inbox.services.common import ServiceError, audit
from inbox.services.replies import _enqueue_delivery, reply_check_length
from inbox.text import storable_text

__all__ = [
    "approval_reason_for",
    "flagged_word_add",
    "flagged_word_remove",
    "flagged_words_in",
    "reply_approve",
    "reply_reject",
]

FLAGGED_WORD_MAX_LENGTH = 100


def _folded(text: str) -> str:
    """Lower case without accents: "Kút" and "kut" are one word to a flagged-word check."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def flagged_words_in(text: str, words: list[str]) -> list[str]:
    """The flagged words that occur in `text` as whole words (or phrases), ignoring case and
    accents: "kut" is in "Kút!" but not in "kutsu"."""
    folded = _folded(text)
    found = []
    for word in words:
        needle = _folded(word.strip())
        if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", folded):
            found.append(word)
    return found


def approval_reason_for(*, actor: User, text: str) -> str:
    """Why this reply needs a team lead's approval; "" when it does not. Team leads' own
    replies never do."""
    profile = AgentProfile.objects.filter(user=actor).only("role").first()
    if profile is not None and profile.is_team_lead:
        return ""
    reasons = []
    if profile is not None and profile.in_training:
        reasons.append(REASON_IN_TRAINING)
    flagged = flagged_words_in(text, list(FlaggedWord.objects.values_list("word", flat=True)))
    if flagged:
        reasons.append(REASON_FLAGGED_PREFIX + ", ".join(flagged))
    # The field holds 200 characters: enough for the reason and a few words.
    return REASON_SEPARATOR.join(reasons)[:200]


def _awaiting_reply_locked(message_id: int) -> Message:
    """The reply, row-locked: of two team leads reviewing it at once, the second waits here
    and then finds it reviewed, so a reply is approved, and sent, once."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation__channel", "conversation__contact")
        .get(id=message_id, direction=Message.Direction.OUTBOUND)
    )
    if message.delivery_status != Message.DeliveryStatus.AWAITING_APPROVAL:
        raise ServiceError(_("This reply has already been reviewed by a team lead."))
    return message


def _normalised(text: str) -> str:
    # Browsers send a textarea's line breaks as CRLF: an untouched draft is not an edit.
    return text.replace("\r\n", "\n").strip()


@transaction.atomic
def reply_approve(*, message_id: int, actor: User, text: str | None = None) -> Message:
    """A team lead approves a reply, possibly edited, and it is queued for delivery.

    An edited text is checked as the composer's is (the platform's length; Mastodon's
    mention), but not signed again: the author's signature is already in it.
    """
    from channels.registry import reply_rules

    team_lead_or_denied(actor, _("Only team leads can approve replies."))
    message = _awaiting_reply_locked(message_id)
    conversation = message.conversation
    new_text = _normalised(text) if text is not None else ""
    edited = text is not None and new_text != _normalised(message.text)
    if edited:
        if not new_text:
            raise ServiceError(_("The reply is empty. Reject it instead, with feedback."))
        rules = reply_rules(conversation.channel)
        if rules.addressed is not None:
            new_text = rules.addressed(new_text, conversation.contact.username)
        reply_check_length(rules, new_text, private=message.is_private)
        message.text = new_text
    if message.is_private and not private_reply_window(conversation, now=timezone.now()).is_open:
        raise ServiceError(
            _(
                "This private reply can no longer be sent: the platform's time limit for a "
                "private reply to the citizen's last message has passed while it waited for "
                "approval. Reject it with feedback; it can be sent once the citizen writes "
                "again."
            )
        )
    now = timezone.now()
    message.delivery_status = Message.DeliveryStatus.QUEUED
    message.next_attempt_at = now
    message.reviewed_by = actor
    message.reviewed_at = now
    message.save(
        update_fields=["text", "delivery_status", "next_attempt_at", "reviewed_by", "reviewed_at"]
    )
    audit(
        "reply.approved",
        actor=actor,
        conversation_id=conversation.id,
        message_id=message.id,
        edited=edited,
        reason=message.approval_reason,
    )
    _enqueue_delivery(message.id)
    return message


@transaction.atomic
def reply_reject(*, message_id: int, actor: User, feedback: str) -> Message:
    """A team lead refuses a reply; the author sees the feedback under it. Never sent."""
    team_lead_or_denied(actor, _("Only team leads can reject replies."))
    feedback = _normalised(feedback)
    if not feedback:
        raise ServiceError(_("Tell the author why: feedback is required to reject a reply."))
    message = _awaiting_reply_locked(message_id)
    message.delivery_status = Message.DeliveryStatus.REJECTED
    message.review_feedback = feedback
    message.reviewed_by = actor
    message.reviewed_at = timezone.now()
    message.save(update_fields=["delivery_status", "review_feedback", "reviewed_by", "reviewed_at"])
    audit(
        "reply.rejected",
        actor=actor,
        conversation_id=message.conversation_id,
        message_id=message.id,
        reason=message.approval_reason,
    )
    return message


def flagged_word_add(*, actor: User, word: str) -> FlaggedWord:
    """Flag a word (or phrase): replies containing it wait for a team lead."""
    team_lead_or_denied(actor, _("Only team leads can manage flagged words."))
    word = " ".join(storable_text(word).split())
    if not re.search(r"\w", word):
        raise ServiceError(_("Enter a word to flag."))
    if len(word) > FLAGGED_WORD_MAX_LENGTH:
        raise ServiceError(
            _("A flagged word has at most %(max)d characters.") % {"max": FLAGGED_WORD_MAX_LENGTH}
        )
    try:
        return _flagged_word_add(actor, word)
    except IntegrityError as error:
        # flaggedword_unique_ci: "Kut" and "kut" are one flagged word.
        raise ServiceError(_("“%(word)s” is already a flagged word.") % {"word": word}) from error


@transaction.atomic
def _flagged_word_add(actor: User, word: str) -> FlaggedWord:
    flagged = FlaggedWord.objects.create(word=word, created_by=actor)
    audit("flagged_word.added", actor=actor, flagged_word_id=flagged.pk, word=word)
    return flagged


@transaction.atomic
def flagged_word_remove(*, actor: User, flagged_word_id: int) -> None:
    team_lead_or_denied(actor, _("Only team leads can manage flagged words."))
    flagged = FlaggedWord.objects.select_for_update().filter(pk=flagged_word_id).first()
    if flagged is None:
        raise ServiceError(_("This word is no longer flagged."))
    flagged.delete()
    audit("flagged_word.removed", actor=actor, flagged_word_id=flagged_word_id, word=flagged.word)
