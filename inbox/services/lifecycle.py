"""A conversation's life: open, pending, snoozed, resolved; care cycles, priority, tags,
notes and merging (docs/architecture.md, "Conversation lifecycle").

Who may: notes are for everyone on the team (a colleague asked for advice answers with a
note). Every other change is for the assignee, for a team lead, or for anyone on the team
while the conversation is unassigned (sorting the queue is everyone's job), the same rule
as handing a conversation over (`assignment._may_hand_over`). A merge needs that right on
both conversations.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.models import (
    AgentProfile,
    CareCycle,
    Conversation,
    ConversationTag,
    Message,
    Note,
    NoteMention,
    Tag,
)
from inbox.services.assignment import enqueue_assignment, staff_profile_or_denied
from inbox.services.common import ServiceError, audit
from inbox.text import storable_text

__all__ = [
    "MAX_NOTE_LENGTH",
    "MAX_SNOOZE",
    "MAX_TAG_LENGTH",
    "care_cycle_start",
    "conversation_mark_pending",
    "conversation_reopen",
    "conversation_resolve",
    "conversation_set_priority",
    "conversation_snooze",
    "conversation_tag",
    "conversation_untag",
    "conversations_merge",
    "conversations_wake_snoozed",
    "may_handle",
    "mentioned_usernames",
    "mentions_mark_read",
    "note_create",
]

# Longer than this is a mistake (a year typed for a month), not a plan.
MAX_SNOOZE = timedelta(days=90)
MAX_TAG_LENGTH = 50
MAX_NOTE_LENGTH = 5000

# @username as Django allows it (letters, digits, @ . + - _), not inside a word or an
# e-mail address ("jan@gemeente.nl" mentions nobody).
MENTION_PATTERN = re.compile(r"(?<![\w@.+-])@([\w.+-]+)")


def care_cycle_start(conversation: Conversation, *, started_at: datetime) -> CareCycle:
    """A new round of care, after the conversation was resolved. The caller holds the
    conversation's row lock; the one-current-cycle constraint guards the rest."""
    last_number = CareCycle.objects.filter(conversation=conversation).aggregate(last=Max("number"))[
        "last"
    ]
    return CareCycle.objects.create(
        conversation=conversation, number=(last_number or 0) + 1, started_at=started_at
    )


# --- who may ---------------------------------------------------------------------------


def may_handle(profile: AgentProfile, conversation: Conversation) -> bool:
    """The assignee, a team lead, or anyone on the team while nobody has it."""
    return (
        profile.is_team_lead
        or conversation.assignee_id is None
        or conversation.assignee_id == profile.user_id
    )


def _locked_for_change(conversation_id: int, actor: User) -> Conversation:
    """The conversation, row-locked, after checking the actor may change it and that it
    still lives on its own (a merged conversation is continued in the one it went into)."""
    profile = staff_profile_or_denied(actor)
    conversation = Conversation.objects.select_for_update().get(id=conversation_id)
    if not may_handle(profile, conversation):
        raise PermissionDenied(_("Only the assignee or a team lead can change this conversation."))
    _refuse_merged(conversation)
    return conversation


def _refuse_merged(conversation: Conversation) -> None:
    if conversation.merged_into_id is not None:
        raise ServiceError(
            _("This conversation was merged into conversation %(id)d; continue there.")
            % {"id": conversation.merged_into_id}
        )


def _current_cycle(conversation: Conversation) -> CareCycle | None:
    return (
        CareCycle.objects.select_for_update()
        .filter(conversation=conversation, resolved_at__isnull=True)
        .first()
    )


# --- status ----------------------------------------------------------------------------


@transaction.atomic
def conversation_resolve(*, conversation_id: int, actor: User) -> Conversation:
    """Done: the current care cycle ends. Replies still being sent go out all the same;
    the citizen's next message starts a new cycle (ingest)."""
    conversation = _locked_for_change(conversation_id, actor)
    if conversation.status == Conversation.Status.RESOLVED:
        raise ServiceError(_("This conversation is resolved already."))
    now = timezone.now()
    previous_status = conversation.status
    cycle = _current_cycle(conversation)
    if cycle is None:
        # Every unresolved conversation has one (ingest, migration 0006); should one be
        # missing, the resolution is still recorded as a cycle of its own.
        cycle = care_cycle_start(conversation, started_at=conversation.first_inbound_at)
    cycle.resolved_at = now
    cycle.resolved_by = actor
    cycle.save(update_fields=["resolved_at", "resolved_by"])
    conversation.status = Conversation.Status.RESOLVED
    conversation.waiting_since = None
    conversation.snoozed_until = None
    conversation.last_activity_at = max(conversation.last_activity_at, now)
    conversation.save(
        update_fields=["status", "waiting_since", "snoozed_until", "last_activity_at"]
    )
    audit(
        "conversation.resolved",
        actor=actor,
        conversation_id=conversation.id,
        previous_status=previous_status,
        care_cycle=cycle.number,
    )
    # The assignee has room for another conversation now.
    enqueue_assignment()
    return conversation


@transaction.atomic
def conversation_mark_pending(*, conversation_id: int, actor: User) -> Conversation:
    """We wait for the citizen (asked for their address, say). Their next message opens the
    conversation again (ingest)."""
    conversation = _locked_for_change(conversation_id, actor)
    if conversation.status == Conversation.Status.PENDING:
        raise ServiceError(_("This conversation is pending already."))
    if conversation.status == Conversation.Status.RESOLVED:
        raise ServiceError(_("This conversation is resolved; reopen it first."))
    previous_status = conversation.status
    conversation.status = Conversation.Status.PENDING
    conversation.snoozed_until = None
    conversation.save(update_fields=["status", "snoozed_until"])
    audit(
        "conversation.pending",
        actor=actor,
        conversation_id=conversation.id,
        previous_status=previous_status,
    )
    return conversation


@transaction.atomic
def conversation_reopen(*, conversation_id: int, actor: User) -> Conversation:
    """Open again by hand. From resolved this corrects a resolution that came too early, so
    the last care cycle continues; a new cycle starts only with a citizen's new message
    (ingest). The citizen awaits an answer again if their last message went unanswered."""
    conversation = _locked_for_change(conversation_id, actor)
    if conversation.status == Conversation.Status.OPEN:
        raise ServiceError(_("This conversation is open already."))
    previous_status = conversation.status
    update_fields = ["status", "snoozed_until"]
    cycle_number = None
    if previous_status == Conversation.Status.RESOLVED:
        cycle = (
            CareCycle.objects.select_for_update()
            .filter(conversation=conversation)
            .order_by(F("resolved_at").desc(nulls_first=True), "-number")
            .first()
        )
        if cycle is None:
            cycle = care_cycle_start(conversation, started_at=timezone.now())
        elif cycle.resolved_at is not None:
            cycle.resolved_at = None
            cycle.resolved_by = None
            cycle.save(update_fields=["resolved_at", "resolved_by"])
        cycle_number = cycle.number
        conversation.waiting_since = _unanswered_since(conversation)
        update_fields.append("waiting_since")
    conversation.status = Conversation.Status.OPEN
    conversation.snoozed_until = None
    conversation.save(update_fields=update_fields)
    audit(
        "conversation.reopened",
        actor=actor,
        conversation_id=conversation.id,
        previous_status=previous_status,
        care_cycle=cycle_number,
        reason="manual",
    )
    if conversation.assignee_id is None:
        enqueue_assignment()
    return conversation


def _unanswered_since(conversation: Conversation) -> datetime | None:
    """The citizen's oldest message after our last reply that reached them (the rule of
    `replies.conversation_note_response`), or None when everything is answered."""
    last_answer = (
        conversation.messages.filter(
            direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.SENT
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    inbound = conversation.messages.filter(direction=Message.Direction.INBOUND)
    if last_answer is not None:
        inbound = inbound.filter(sent_at__gt=last_answer)
    return inbound.order_by("sent_at").values_list("sent_at", flat=True).first()


@transaction.atomic
def conversation_snooze(*, conversation_id: int, actor: User, until: datetime) -> Conversation:
    """Out of sight until `until`, then open again by itself (`conversations_wake_snoozed`),
    or earlier when the citizen writes (ingest). Snoozing again moves the time."""
    conversation = _locked_for_change(conversation_id, actor)
    if conversation.status == Conversation.Status.RESOLVED:
        raise ServiceError(_("This conversation is resolved; reopen it first."))
    if timezone.is_naive(until):
        raise ServiceError(_("Give the snooze time with its time zone."))
    now = timezone.now()
    if until <= now:
        raise ServiceError(_("Choose a moment in the future to snooze until."))
    if until > now + MAX_SNOOZE:
        raise ServiceError(
            _("You can snooze for at most %(days)d days.") % {"days": MAX_SNOOZE.days}
        )
    previous_status = conversation.status
    conversation.status = Conversation.Status.SNOOZED
    conversation.snoozed_until = until
    conversation.save(update_fields=["status", "snoozed_until"])
    audit(
        "conversation.snoozed",
        actor=actor,
        conversation_id=conversation.id,
        previous_status=previous_status,
        until=until.isoformat(),
    )
    return conversation


@transaction.atomic
def conversations_wake_snoozed(*, now: datetime | None = None) -> int:
    """Snoozed conversations whose time has come open again (the `inbox.wake_snoozed` task).
    Rows someone is changing right now are skipped and woken by the next run."""
    now = now or timezone.now()
    due = list(
        Conversation.objects.select_for_update(skip_locked=True)
        .filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until", "id")
    )
    for conversation in due:
        snoozed_until = conversation.snoozed_until
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
        conversation.save(update_fields=["status", "snoozed_until"])
        audit(
            "conversation.woke",
            conversation_id=conversation.id,
            snoozed_until=snoozed_until.isoformat() if snoozed_until else None,
        )
    if any(conversation.assignee_id is None for conversation in due):
        enqueue_assignment()
    return len(due)


@transaction.atomic
def conversation_set_priority(*, conversation_id: int, actor: User, priority: int) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ServiceError(_("Unknown priority: %(priority)s.") % {"priority": priority})
    conversation = _locked_for_change(conversation_id, actor)
    if conversation.priority == priority:
        return conversation
    previous = conversation.priority
    conversation.priority = priority
    conversation.save(update_fields=["priority"])
    audit(
        "conversation.priority_changed",
        actor=actor,
        conversation_id=conversation.id,
        previous=previous,
        priority=priority,
    )
    return conversation


# --- tags ------------------------------------------------------------------------------


def _tag_get_or_create(name: str) -> Tag:
    """The tag with this name in any case ("Storing" is "storing"); two agents creating
    the same new tag at once get one row (the unique index decides)."""
    existing = Tag.objects.alias(lower_name=Lower("name")).filter(lower_name=Lower(Value(name)))
    tag = existing.first()
    if tag is not None:
        return tag
    try:
        with transaction.atomic():
            return Tag.objects.create(name=name)
    except IntegrityError:
        return existing.get()


@transaction.atomic
def conversation_tag(*, conversation_id: int, actor: User, name: str) -> Tag:
    """Label the conversation; the tag is created on first use. Tagging twice is one tag."""
    # NUL and lone surrogates cannot be stored: a form posting one must not end in a 500.
    name = " ".join(storable_text(name).split())
    if not name:
        raise ServiceError(_("Give the tag a name."))
    if len(name) > MAX_TAG_LENGTH:
        raise ServiceError(_("A tag has at most %(max)d characters.") % {"max": MAX_TAG_LENGTH})
    conversation = _locked_for_change(conversation_id, actor)
    tag = _tag_get_or_create(name)
    # The conversation's row lock makes concurrent taggings take turns; the unique
    # (conversation, tag) constraint stays the last word.
    if ConversationTag.objects.filter(conversation=conversation, tag=tag).exists():
        return tag
    ConversationTag.objects.create(conversation=conversation, tag=tag, added_by=actor)
    audit(
        "conversation.tagged",
        actor=actor,
        conversation_id=conversation.id,
        tag_id=tag.id,
        tag=tag.name,
    )
    return tag


@transaction.atomic
def conversation_untag(*, conversation_id: int, actor: User, tag_id: int) -> None:
    """Take the label off; the tag itself stays for other conversations. Removing a tag
    that is not there (a double submit) changes nothing."""
    conversation = _locked_for_change(conversation_id, actor)
    deleted, _rows = ConversationTag.objects.filter(
        conversation=conversation, tag_id=tag_id
    ).delete()
    if deleted:
        audit(
            "conversation.untagged",
            actor=actor,
            conversation_id=conversation.id,
            tag_id=tag_id,
            tag=Tag.objects.filter(id=tag_id).values_list("name", flat=True).first(),
        )


# --- notes and mentions ----------------------------------------------------------------


def mentioned_usernames(text: str) -> list[str]:
    """The @names in a note, lower-cased, in order, each once. A full stop or comma right
    after a name ends the sentence, not the name ("vraag het @bram.")."""
    names: list[str] = []
    for match in MENTION_PATTERN.finditer(text):
        name = match.group(1).rstrip(".-+").lower()
        if name and name not in names:
            names.append(name)
    return names


def _mentionable_users(names: list[str], *, author: User) -> list[User]:
    """Active colleagues on the team with one of these usernames (any case); unknown names
    and the author are left out."""
    if not names:
        return []
    return list(
        User.objects.alias(lower_username=Lower("username"))
        .filter(lower_username__in=names, is_active=True, agent_profile__isnull=False)
        .exclude(id=author.pk)
        .order_by("id")
    )


@transaction.atomic
def note_create(*, conversation_id: int, actor: User, text: str) -> Note:
    """An internal note, never sent to the citizen. Colleagues named as @username see it
    under "Mentions of me" in their inbox until they open the conversation."""
    staff_profile_or_denied(actor)
    text = storable_text(text).strip()
    if not text:
        raise ServiceError(_("Write a note first."))
    if len(text) > MAX_NOTE_LENGTH:
        raise ServiceError(_("A note has at most %(max)d characters.") % {"max": MAX_NOTE_LENGTH})
    conversation = Conversation.objects.get(id=conversation_id)
    _refuse_merged(conversation)
    note = Note.objects.create(conversation=conversation, author=actor, text=text)
    mentioned = _mentionable_users(mentioned_usernames(text), author=actor)
    NoteMention.objects.bulk_create([NoteMention(note=note, user=user) for user in mentioned])
    audit(
        "note.created",
        actor=actor,
        conversation_id=conversation.id,
        note_id=note.id,
        mentioned_ids=[user.pk for user in mentioned],
    )
    return note


def mentions_mark_read(*, actor: User, conversation_id: int) -> int:
    """The actor opened the conversation: their mentions in its notes are read. A read
    receipt, not audited; one conditional UPDATE, atomic by itself, so no transaction
    block (it runs on every page view)."""
    return NoteMention.objects.filter(
        user=actor, read_at__isnull=True, note__conversation_id=conversation_id
    ).update(read_at=timezone.now())


# --- merge -----------------------------------------------------------------------------


@transaction.atomic
def conversations_merge(*, source_id: int, target_id: int, actor: User) -> Conversation:
    """Continue the citizen's `source` conversation in `target`: messages, notes, tags and
    care cycles move over; the source stays as a resolved shell that points at the target,
    and ingest sends its thread's later messages there. Audit events stay where they
    happened. Both must be the same citizen's (so the same channel) and both public or
    both private: replies go out in the target's thread.
    """
    profile = staff_profile_or_denied(actor)
    if source_id == target_id:
        raise ServiceError(_("A conversation cannot be merged into itself."))
    # Both rows locked in id order: two merges of the same pair, either way round, cannot
    # deadlock.
    locked = {
        conversation.id: conversation
        for conversation in Conversation.objects.select_for_update()
        .filter(id__in=[source_id, target_id])
        .order_by("id")
    }
    if len(locked) < 2:
        raise Conversation.DoesNotExist("Conversation matching query does not exist.")
    source, target = locked[source_id], locked[target_id]
    if not (may_handle(profile, source) and may_handle(profile, target)):
        raise PermissionDenied(
            _("Only a team lead, or the assignee of both conversations, can merge them.")
        )
    if source.merged_into_id is not None:
        raise ServiceError(_("This conversation was merged already."))
    _refuse_merged(target)
    if source.contact_id != target.contact_id:
        raise ServiceError(_("Only conversations of the same citizen can be merged."))
    if source.is_private != target.is_private:
        raise ServiceError(
            _(
                "A private conversation can only be merged with a private one, and a public one "
                "with a public one."
            )
        )
    in_flight = source.messages.filter(
        delivery_status__in=[
            Message.DeliveryStatus.AWAITING_APPROVAL,
            Message.DeliveryStatus.QUEUED,
            Message.DeliveryStatus.SENDING,
        ]
    )
    if in_flight.exists():
        raise ServiceError(
            _(
                "A reply in this conversation is still waiting to be sent; merge it once it "
                "has gone out."
            )
        )

    moved_messages = source.messages.update(conversation=target)
    moved_notes = Note.objects.filter(conversation=source).update(conversation=target)
    _merge_tags(source, target)
    _merge_care_cycles(source, target)

    previous_target_status = target.status
    if target.status == Conversation.Status.RESOLVED and source.status != target.status:
        # The care still going on in the source goes on in the target.
        target.status = source.status
        target.snoozed_until = source.snoozed_until
    target.priority = max(target.priority, source.priority)
    target.first_inbound_at = min(target.first_inbound_at, source.first_inbound_at)
    target.last_inbound_at = max(target.last_inbound_at, source.last_inbound_at)
    target.last_activity_at = max(target.last_activity_at, source.last_activity_at)
    target.waiting_since = _earliest(target.waiting_since, source.waiting_since)
    target.first_response_at = _earliest(target.first_response_at, source.first_response_at)
    target.save(
        update_fields=[
            "status",
            "snoozed_until",
            "priority",
            "first_inbound_at",
            "last_inbound_at",
            "last_activity_at",
            "waiting_since",
            "first_response_at",
        ]
    )
    previous_source_status = source.status
    source.merged_into = target
    source.status = Conversation.Status.RESOLVED
    source.snoozed_until = None
    source.waiting_since = None
    source.save(update_fields=["merged_into", "status", "snoozed_until", "waiting_since"])
    details = {
        "source_id": source.id,
        "target_id": target.id,
        "messages_moved": moved_messages,
        "notes_moved": moved_notes,
    }
    audit(
        "conversation.merged",
        actor=actor,
        conversation_id=source.id,
        previous_status=previous_source_status,
        **details,
    )
    audit(
        "conversation.merged",
        actor=actor,
        conversation_id=target.id,
        previous_status=previous_target_status,
        **details,
    )
    # The source no longer counts against its assignee's capacity; the target may wait.
    enqueue_assignment()
    return target


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    present = [moment for moment in (first, second) if moment is not None]
    return min(present) if present else None


def _merge_tags(source: Conversation, target: Conversation) -> None:
    """The source's tags onto the target, each once; the source keeps none."""
    on_target = set(
        ConversationTag.objects.filter(conversation=target).values_list("tag_id", flat=True)
    )
    ConversationTag.objects.filter(conversation=source, tag_id__in=on_target).delete()
    ConversationTag.objects.filter(conversation=source).update(conversation=target)


def _merge_care_cycles(source: Conversation, target: Conversation) -> None:
    """All cycles of both, numbered 1, 2, … by when they started, under the target.

    Two cycles in progress become one (at most one per conversation): it started when the
    earlier did, and its first response is the earlier of the two.
    """
    source_current = _current_cycle(source)
    target_current = _current_cycle(target)
    if source_current is not None and target_current is not None:
        target_current.started_at = min(target_current.started_at, source_current.started_at)
        target_current.first_response_at = _earliest(
            target_current.first_response_at, source_current.first_response_at
        )
        target_current.save(update_fields=["started_at", "first_response_at"])
        source_current.delete()
    # Out of the way of (conversation, number) first, then numbered in one statement.
    offset = 1_000_000
    CareCycle.objects.filter(conversation=target).update(number=F("number") + offset)
    CareCycle.objects.filter(conversation=source).update(
        conversation=target, number=F("number") + 2 * offset
    )
    cycles = list(
        CareCycle.objects.select_for_update()
        .filter(conversation=target)
        .order_by("started_at", "number")
    )
    for number, cycle in enumerate(cycles, start=1):
        cycle.number = number
    CareCycle.objects.bulk_update(cycles, ["number"])
