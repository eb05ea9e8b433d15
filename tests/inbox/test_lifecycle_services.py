"""The conversation lifecycle: status transitions, care cycles, snooze, priority, tags,
notes with mentions and merging (inbox/services/lifecycle.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from channels.base import SentReply
from inbox.models import (
    AuditEvent,
    CareCycle,
    Conversation,
    ConversationTag,
    Message,
    Note,
    NoteMention,
    Tag,
)
from inbox.selectors.lifecycle import (
    conversation_thread,
    mentions_unread_for,
    merge_candidates,
    tag_overview,
    tag_suggestions,
)
from inbox.services import (
    ServiceError,
    conversation_mark_pending,
    conversation_reopen,
    conversation_resolve,
    conversation_set_priority,
    conversation_snooze,
    conversation_tag,
    conversation_take,
    conversation_untag,
    conversations_merge,
    conversations_wake_snoozed,
    mentioned_usernames,
    mentions_mark_read,
    note_create,
    reply_create,
    reply_mark_sent,
    staff_member_create,
)
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # The refusals are matched on their English source text, whatever language an earlier
    # test left active in this thread.
    with translation.override("en"):
        yield


def _actions(conversation: Conversation) -> list[str]:
    return list(
        AuditEvent.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("action", flat=True)
    )


def _cycles(conversation: Conversation) -> list[tuple[int, bool]]:
    """(number, in progress) per care cycle, in order."""
    return [
        (cycle.number, cycle.resolved_at is None)
        for cycle in CareCycle.objects.filter(conversation=conversation).order_by("number")
    ]


def _reply_delivered(conversation: Conversation, actor) -> Message:  # type: ignore[no-untyped-def]
    """An agent's reply that reached the platform (the delivery path of replies.py)."""
    message = reply_create(
        conversation_id=conversation.id,
        actor=actor,
        text="We kijken ernaar.",
        idempotency_key=uuid.uuid4(),
    )
    return reply_mark_sent(
        message_id=message.id, sent=SentReply(f"sent-{uuid.uuid4().hex[:10]}", {})
    )


@pytest.fixture
def conversation(channel) -> Conversation:  # type: ignore[no-untyped-def]
    return citizen_writes(channel, username="daan", thread="thread-daan")


# --- status transitions -----------------------------------------------------------------


def test_resolving_ends_the_care_cycle_and_frees_the_assignee(
    conversation, agent, django_capture_on_commit_callbacks
):
    conversation_take(conversation_id=conversation.id, actor=agent.user)

    with django_capture_on_commit_callbacks() as callbacks:
        resolved = conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    resolved.refresh_from_db()
    cycle = CareCycle.objects.get(conversation=conversation)
    assert resolved.status == Conversation.Status.RESOLVED
    assert resolved.waiting_since is None
    assert resolved.snoozed_until is None
    assert cycle.resolved_at is not None
    assert cycle.resolved_by == agent.user
    # Capacity freed up: assignment runs after commit.
    assert [callback.args[0].name for callback in callbacks] == ["inbox.assign_waiting"]
    event = AuditEvent.objects.get(action="conversation.resolved")
    assert event.actor == agent.user
    assert event.data == {"previous_status": "open", "care_cycle": 1}


def test_a_resolved_conversation_cannot_be_resolved_again(conversation, agent):
    conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    with pytest.raises(ServiceError, match="resolved already"):
        conversation_resolve(conversation_id=conversation.id, actor=agent.user)
    assert _actions(conversation).count("conversation.resolved") == 1


def test_pending_snoozed_and_resolved_each_reopen_by_hand(conversation, agent):
    conversation_mark_pending(conversation_id=conversation.id, actor=agent.user)
    assert Conversation.objects.get().status == Conversation.Status.PENDING
    conversation_reopen(conversation_id=conversation.id, actor=agent.user)
    assert Conversation.objects.get().status == Conversation.Status.OPEN

    conversation_snooze(
        conversation_id=conversation.id,
        actor=agent.user,
        until=timezone.now() + timedelta(hours=1),
    )
    conversation_reopen(conversation_id=conversation.id, actor=agent.user)
    reopened = Conversation.objects.get()
    assert reopened.status == Conversation.Status.OPEN
    assert reopened.snoozed_until is None

    conversation_resolve(conversation_id=conversation.id, actor=agent.user)
    conversation_reopen(conversation_id=conversation.id, actor=agent.user)
    assert Conversation.objects.get().status == Conversation.Status.OPEN
    assert _actions(conversation)[-6:] == [
        "conversation.pending",
        "conversation.reopened",
        "conversation.snoozed",
        "conversation.reopened",
        "conversation.resolved",
        "conversation.reopened",
    ]


def test_illegal_transitions_are_refused_and_change_nothing(conversation, agent):
    with pytest.raises(ServiceError, match="open already"):
        conversation_reopen(conversation_id=conversation.id, actor=agent.user)

    conversation_mark_pending(conversation_id=conversation.id, actor=agent.user)
    with pytest.raises(ServiceError, match="pending already"):
        conversation_mark_pending(conversation_id=conversation.id, actor=agent.user)

    conversation_resolve(conversation_id=conversation.id, actor=agent.user)
    with pytest.raises(ServiceError, match="reopen it first"):
        conversation_mark_pending(conversation_id=conversation.id, actor=agent.user)
    with pytest.raises(ServiceError, match="reopen it first"):
        conversation_snooze(
            conversation_id=conversation.id,
            actor=agent.user,
            until=timezone.now() + timedelta(hours=1),
        )
    assert Conversation.objects.get().status == Conversation.Status.RESOLVED
    assert _actions(conversation)[-1] == "conversation.resolved"


def test_pending_from_snoozed_drops_the_snooze_time(conversation, agent):
    conversation_snooze(
        conversation_id=conversation.id, actor=agent.user, until=timezone.now() + timedelta(days=1)
    )
    pending = conversation_mark_pending(conversation_id=conversation.id, actor=agent.user)

    pending.refresh_from_db()
    assert pending.status == Conversation.Status.PENDING
    assert pending.snoozed_until is None


def test_reopening_a_resolved_conversation_by_hand_continues_its_cycle(conversation, agent):
    conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    reopened = conversation_reopen(conversation_id=conversation.id, actor=agent.user)

    cycle = CareCycle.objects.get(conversation=conversation)
    assert _cycles(conversation) == [(1, True)]
    assert cycle.resolved_by is None
    # The citizen's message was never answered: they await our answer again.
    assert reopened.waiting_since == conversation.first_inbound_at
    assert AuditEvent.objects.filter(action="conversation.reopened").last().data == {
        "previous_status": "resolved",
        "care_cycle": 1,
        "reason": "manual",
    }


def test_reopening_an_answered_conversation_leaves_nobody_waiting(conversation, agent):
    _reply_delivered(conversation, agent.user)
    conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    reopened = conversation_reopen(conversation_id=conversation.id, actor=agent.user)

    assert reopened.waiting_since is None


# --- a citizen's new message ------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "snoozed"])
def test_a_citizen_message_reopens_a_pending_or_snoozed_conversation_in_the_same_cycle(
    channel, agent, status
):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        conversation = citizen_writes(channel, username="daan", thread="t1")
        _reply_delivered(conversation, agent.user)
        if status == "pending":
            conversation_mark_pending(conversation_id=conversation.id, actor=agent.user)
        else:
            conversation_snooze(
                conversation_id=conversation.id,
                actor=agent.user,
                until=MONDAY_MORNING + timedelta(days=2),
            )

    with time_machine.travel(MONDAY_MORNING + timedelta(hours=3), tick=False):
        citizen_writes(channel, username="daan", thread="t1", text="Hier is mijn adres")

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.snoozed_until is None
    assert conversation.waiting_since == MONDAY_MORNING + timedelta(hours=3)
    assert _cycles(conversation) == [(1, True)]


def test_a_citizen_message_in_a_resolved_conversation_starts_cycle_two(channel, agent):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        conversation = citizen_writes(channel, username="daan", thread="t1")
    with time_machine.travel(MONDAY_MORNING + timedelta(minutes=20), tick=False):
        _reply_delivered(conversation, agent.user)
        conversation_resolve(conversation_id=conversation.id, actor=agent.user)

    with time_machine.travel(MONDAY_MORNING + timedelta(days=2), tick=False):
        citizen_writes(channel, username="daan", thread="t1", text="Hij is weer niet geleegd")
    cycles = list(CareCycle.objects.filter(conversation=conversation).order_by("number"))
    assert [(cycle.number, cycle.resolved_at is None) for cycle in cycles] == [
        (1, False),
        (2, True),
    ]
    assert cycles[1].started_at == MONDAY_MORNING + timedelta(days=2)
    assert cycles[1].first_response_at is None

    with time_machine.travel(MONDAY_MORNING + timedelta(days=2, minutes=45), tick=False):
        _reply_delivered(conversation, agent.user)

    cycles = list(CareCycle.objects.filter(conversation=conversation).order_by("number"))
    conversation.refresh_from_db()
    # Each cycle has its own first response; the conversation keeps its very first.
    assert cycles[0].first_response_at == MONDAY_MORNING + timedelta(minutes=20)
    assert cycles[1].first_response_at == MONDAY_MORNING + timedelta(days=2, minutes=45)
    assert conversation.first_response_at == MONDAY_MORNING + timedelta(minutes=20)
    assert conversation.status == Conversation.Status.OPEN
    assert AuditEvent.objects.filter(action="conversation.reopened").last().data["care_cycle"] == 2


def test_the_database_allows_only_one_cycle_in_progress(conversation):
    with pytest.raises(IntegrityError), transaction.atomic():
        CareCycle.objects.create(conversation=conversation, number=2, started_at=timezone.now())


# --- snooze -----------------------------------------------------------------------------


def test_snooze_needs_a_moment_in_the_near_future(conversation, agent):
    now = timezone.now()
    with pytest.raises(ServiceError, match="future"):
        conversation_snooze(
            conversation_id=conversation.id, actor=agent.user, until=now - timedelta(minutes=1)
        )
    with pytest.raises(ServiceError, match="90 days"):
        conversation_snooze(
            conversation_id=conversation.id, actor=agent.user, until=now + timedelta(days=91)
        )
    assert Conversation.objects.get().status == Conversation.Status.OPEN


def test_snoozed_conversations_wake_up_when_their_time_has_come(channel, agent):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        early = citizen_writes(channel, username="early", thread="t-early")
        late = citizen_writes(channel, username="late", thread="t-late")
        conversation_snooze(
            conversation_id=early.id, actor=agent.user, until=MONDAY_MORNING + timedelta(hours=1)
        )
        conversation_snooze(
            conversation_id=late.id, actor=agent.user, until=MONDAY_MORNING + timedelta(days=1)
        )
        assert conversations_wake_snoozed() == 0

    with time_machine.travel(MONDAY_MORNING + timedelta(hours=1, seconds=30), tick=False):
        assert conversations_wake_snoozed() == 1
        assert conversations_wake_snoozed() == 0

    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.status, early.snoozed_until) == (Conversation.Status.OPEN, None)
    assert late.status == Conversation.Status.SNOOZED
    woke = AuditEvent.objects.get(action="conversation.woke")
    assert woke.actor is None
    assert woke.conversation_id == early.id


def test_snoozing_again_moves_the_wake_up_time(conversation, agent):
    first = timezone.now() + timedelta(hours=1)
    second = timezone.now() + timedelta(days=3)
    conversation_snooze(conversation_id=conversation.id, actor=agent.user, until=first)
    conversation_snooze(conversation_id=conversation.id, actor=agent.user, until=second)

    assert Conversation.objects.get().snoozed_until == second


# --- priority ---------------------------------------------------------------------------


def test_priority_changes_are_audited_and_unknown_ones_refused(conversation, agent):
    conversation_set_priority(
        conversation_id=conversation.id, actor=agent.user, priority=Conversation.Priority.URGENT
    )
    conversation_set_priority(
        conversation_id=conversation.id, actor=agent.user, priority=Conversation.Priority.URGENT
    )
    with pytest.raises(ServiceError):
        conversation_set_priority(conversation_id=conversation.id, actor=agent.user, priority=9)

    assert Conversation.objects.get().priority == Conversation.Priority.URGENT
    [event] = AuditEvent.objects.filter(action="conversation.priority_changed")
    assert event.data == {"previous": 2, "priority": 4}


# --- tags -------------------------------------------------------------------------------


def test_tags_are_shared_case_insensitively_and_added_once(channel, agent):
    first = citizen_writes(channel, username="a", thread="t-a")
    second = citizen_writes(channel, username="b", thread="t-b")

    storing = conversation_tag(conversation_id=first.id, actor=agent.user, name="  Storing ")
    again = conversation_tag(conversation_id=first.id, actor=agent.user, name="storing")
    other = conversation_tag(conversation_id=second.id, actor=agent.user, name="STORING")

    assert storing.name == "Storing"
    assert storing.id == again.id == other.id
    assert Tag.objects.count() == 1
    assert ConversationTag.objects.filter(conversation=first).count() == 1
    assert AuditEvent.objects.filter(action="conversation.tagged").count() == 2
    assert tag_suggestions("sto") == ["Storing"]


def test_tag_names_must_be_given_and_short(conversation, agent):
    with pytest.raises(ServiceError):
        conversation_tag(conversation_id=conversation.id, actor=agent.user, name="   ")
    with pytest.raises(ServiceError, match="50"):
        conversation_tag(conversation_id=conversation.id, actor=agent.user, name="x" * 51)
    assert not Tag.objects.exists()


def test_untagging_removes_the_label_but_keeps_the_tag(conversation, agent):
    tag = conversation_tag(conversation_id=conversation.id, actor=agent.user, name="compliment")

    conversation_untag(conversation_id=conversation.id, actor=agent.user, tag_id=tag.id)
    conversation_untag(conversation_id=conversation.id, actor=agent.user, tag_id=tag.id)

    assert not ConversationTag.objects.exists()
    assert Tag.objects.filter(id=tag.id).exists()
    assert _actions(conversation).count("conversation.untagged") == 1
    overview = tag_overview(conversation)
    assert overview.on_conversation == []
    assert overview.suggestions == ["compliment"]


# --- notes and mentions -----------------------------------------------------------------


def test_mentions_are_parsed_from_the_text():
    assert mentioned_usernames("@Bram kun jij dit doen? En @lotte. Mail jan@gemeente.nl") == [
        "bram",
        "lotte",
    ]
    assert mentioned_usernames("@bram @BRAM, @bram") == ["bram"]
    assert mentioned_usernames("geen namen hier") == []


def test_a_note_mentions_active_colleagues_only(
    conversation, agent, second_agent, team_lead, outsider
):
    gone = staff_member_create(username="oud", password=PASSWORD, first_name="Oud")
    gone.user.is_active = False
    gone.user.save(update_fields=["is_active"])

    note = note_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text="@BRAM en @lotte: kijken jullie mee? Niet @charlie, @oud, @onbekend of @anouk.",
    )

    assert set(note.mentioned.values_list("username", flat=True)) == {"bram", "lotte"}
    event = AuditEvent.objects.get(action="note.created")
    assert event.actor == agent.user
    assert event.data == {
        "note_id": note.id,
        "mentioned_ids": sorted([second_agent.user.id, team_lead.user.id]),
    }


def test_an_empty_note_is_refused(conversation, agent):
    with pytest.raises(ServiceError):
        note_create(conversation_id=conversation.id, actor=agent.user, text="  \n ")
    assert not Note.objects.exists()


def test_mentions_stay_unread_until_the_colleague_opens_the_conversation(
    channel, agent, second_agent
):
    first = citizen_writes(channel, username="a", thread="t-a")
    second = citizen_writes(channel, username="b", thread="t-b")
    note_create(conversation_id=first.id, actor=agent.user, text="@bram weet jij dit?")
    note_create(conversation_id=second.id, actor=agent.user, text="@bram en deze?")

    assert [mention.note.conversation_id for mention in mentions_unread_for(second_agent.user)] == [
        second.id,
        first.id,
    ]
    assert mentions_unread_for(agent.user) == []

    # Someone else opening it does not count.
    assert mentions_mark_read(actor=agent.user, conversation_id=first.id) == 0
    assert mentions_mark_read(actor=second_agent.user, conversation_id=first.id) == 1
    assert mentions_mark_read(actor=second_agent.user, conversation_id=first.id) == 0

    assert [mention.note.conversation_id for mention in mentions_unread_for(second_agent.user)] == [
        second.id
    ]
    assert NoteMention.objects.filter(read_at__isnull=False).count() == 1


def test_notes_and_messages_interleave_in_time_order(channel, agent):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        conversation = citizen_writes(channel, username="daan", thread="t1", text="Eerste")
    with time_machine.travel(MONDAY_MORNING + timedelta(minutes=5), tick=False):
        note_create(conversation_id=conversation.id, actor=agent.user, text="Notitie")
    with time_machine.travel(MONDAY_MORNING + timedelta(minutes=10), tick=False):
        citizen_writes(channel, username="daan", thread="t1", text="Tweede")

    thread = conversation_thread(conversation)

    assert [item.note.text if item.is_note else item.message.text for item in thread] == [
        "Eerste",
        "Notitie",
        "Tweede",
    ]


# --- permissions ------------------------------------------------------------------------


def test_only_the_assignee_or_a_team_lead_changes_an_assigned_conversation(
    conversation, agent, second_agent, team_lead
):
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    colleague = second_agent.user
    until = timezone.now() + timedelta(hours=1)
    refused = [
        lambda: conversation_resolve(conversation_id=conversation.id, actor=colleague),
        lambda: conversation_mark_pending(conversation_id=conversation.id, actor=colleague),
        lambda: conversation_snooze(conversation_id=conversation.id, actor=colleague, until=until),
        lambda: conversation_set_priority(
            conversation_id=conversation.id, actor=colleague, priority=4
        ),
        lambda: conversation_tag(conversation_id=conversation.id, actor=colleague, name="x"),
    ]
    for attempt in refused:
        with pytest.raises(PermissionDenied):
            attempt()
    assert Conversation.objects.get().status == Conversation.Status.OPEN

    # A colleague may still leave a note; a team lead may change it.
    note_create(conversation_id=conversation.id, actor=colleague, text="Tip: zie vorige melding")
    conversation_resolve(conversation_id=conversation.id, actor=team_lead.user)
    assert Conversation.objects.get().status == Conversation.Status.RESOLVED


def test_anyone_on_the_team_handles_an_unassigned_conversation_but_outsiders_nobody(
    conversation, second_agent, outsider
):
    conversation_mark_pending(conversation_id=conversation.id, actor=second_agent.user)

    with pytest.raises(PermissionDenied):
        conversation_reopen(conversation_id=conversation.id, actor=outsider)
    with pytest.raises(PermissionDenied):
        note_create(conversation_id=conversation.id, actor=outsider, text="hoi")
    assert Conversation.objects.get().status == Conversation.Status.PENDING


# --- merge ------------------------------------------------------------------------------


@pytest.fixture
def two_conversations(channel, agent):  # type: ignore[no-untyped-def]
    """Daan wrote twice, in two threads: first on Monday, again on Tuesday."""
    with time_machine.travel(MONDAY_MORNING, tick=False):
        target = citizen_writes(channel, username="daan", thread="t-monday", text="Maandag")
        note_create(conversation_id=target.id, actor=agent.user, text="Notitie maandag")
        conversation_tag(conversation_id=target.id, actor=agent.user, name="afval")
    with time_machine.travel(MONDAY_MORNING + timedelta(days=1), tick=False):
        source = citizen_writes(channel, username="daan", thread="t-tuesday", text="Dinsdag")
        note_create(conversation_id=source.id, actor=agent.user, text="Notitie dinsdag")
        conversation_tag(conversation_id=source.id, actor=agent.user, name="Afval")
        conversation_tag(conversation_id=source.id, actor=agent.user, name="spoed")
        conversation_set_priority(conversation_id=source.id, actor=agent.user, priority=3)
    return source, target


def test_merging_moves_messages_notes_tags_and_cycles_into_the_target(two_conversations, agent):
    source, target = two_conversations
    assert merge_candidates(source) == [target]

    with time_machine.travel(MONDAY_MORNING + timedelta(days=1, hours=1), tick=False):
        merged = conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)

    source.refresh_from_db()
    merged.refresh_from_db()
    assert merged.id == target.id
    assert [message.text for message in merged.messages.order_by("sent_at")] == [
        "Maandag",
        "Dinsdag",
    ]
    assert not source.messages.exists()
    assert set(Note.objects.values_list("conversation_id", flat=True)) == {target.id}
    assert sorted(tag.name for tag in merged.tags.all()) == ["afval", "spoed"]
    assert not ConversationTag.objects.filter(conversation=source).exists()
    # Both cycles were in progress: one remains, from Monday.
    [cycle] = CareCycle.objects.filter(conversation=target)
    assert (cycle.number, cycle.started_at, cycle.resolved_at) == (1, MONDAY_MORNING, None)
    assert not CareCycle.objects.filter(conversation=source).exists()
    assert merged.waiting_since == MONDAY_MORNING
    assert merged.last_inbound_at == MONDAY_MORNING + timedelta(days=1)
    assert merged.priority == 3
    assert (source.merged_into_id, source.status) == (target.id, Conversation.Status.RESOLVED)
    assert source.waiting_since is None
    assert merge_candidates(target) == []
    assert _actions(source)[-1] == "conversation.merged"
    assert _actions(target)[-1] == "conversation.merged"
    assert AuditEvent.objects.filter(action="conversation.merged").first().data["source_id"] == (
        source.id
    )


def test_after_a_merge_the_sources_thread_lands_in_the_target(two_conversations, agent, channel):
    source, target = two_conversations
    conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)

    citizen_writes(channel, username="daan", thread="t-tuesday", text="Nog een vraag")

    assert target.messages.filter(text="Nog een vraag").exists()
    assert not Message.objects.filter(conversation=source).exists()


def test_resolved_cycles_are_renumbered_by_when_they_started(channel, agent):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        source = citizen_writes(channel, username="daan", thread="t-old")
        conversation_resolve(conversation_id=source.id, actor=agent.user)
    with time_machine.travel(MONDAY_MORNING + timedelta(days=1), tick=False):
        target = citizen_writes(channel, username="daan", thread="t-new")
        conversation_resolve(conversation_id=target.id, actor=agent.user)
    with time_machine.travel(MONDAY_MORNING + timedelta(days=2), tick=False):
        citizen_writes(channel, username="daan", thread="t-new", text="Weer ik")

    conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)

    cycles = CareCycle.objects.filter(conversation=target).order_by("number")
    assert [(c.number, c.started_at.date().day, c.resolved_at is None) for c in cycles] == [
        (1, 23, False),
        (2, 24, False),
        (3, 25, True),
    ]
    target.refresh_from_db()
    assert target.status == Conversation.Status.OPEN


def test_a_resolved_target_takes_over_the_open_care_of_the_source(channel, agent):
    target = citizen_writes(channel, username="daan", thread="t-old")
    conversation_resolve(conversation_id=target.id, actor=agent.user)
    source = citizen_writes(channel, username="daan", thread="t-new")

    merged = conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)

    merged.refresh_from_db()
    assert merged.status == Conversation.Status.OPEN
    assert merged.waiting_since == source.waiting_since
    assert _cycles(merged) == [(1, False), (2, True)]


def test_merging_is_refused_across_citizens_into_itself_and_twice(channel, agent):
    daan = citizen_writes(channel, username="daan", thread="t-1")
    daan_again = citizen_writes(channel, username="daan", thread="t-2")
    eva = citizen_writes(channel, username="eva", thread="t-3")

    with pytest.raises(ServiceError, match="same citizen"):
        conversations_merge(source_id=daan.id, target_id=eva.id, actor=agent.user)
    with pytest.raises(ServiceError, match="itself"):
        conversations_merge(source_id=daan.id, target_id=daan.id, actor=agent.user)
    conversations_merge(source_id=daan.id, target_id=daan_again.id, actor=agent.user)
    with pytest.raises(ServiceError, match="merged already"):
        conversations_merge(source_id=daan.id, target_id=daan_again.id, actor=agent.user)
    with pytest.raises(ServiceError, match="merged into"):
        conversations_merge(source_id=daan_again.id, target_id=daan.id, actor=agent.user)
    # A merged conversation is continued elsewhere: no more changes of its own.
    with pytest.raises(ServiceError, match="merged into"):
        conversation_reopen(conversation_id=daan.id, actor=agent.user)
    assert Conversation.objects.filter(merged_into__isnull=False).count() == 1


def test_a_private_and_a_public_conversation_are_not_merged(channel, agent):
    public = citizen_writes(channel, username="daan", thread="t-public")
    private = citizen_writes(channel, username="daan", thread="dm:daan", private=True)

    assert merge_candidates(public) == []
    with pytest.raises(ServiceError, match="private"):
        conversations_merge(source_id=private.id, target_id=public.id, actor=agent.user)


def test_a_conversation_with_a_reply_still_being_sent_is_not_merged(two_conversations, agent):
    source, target = two_conversations
    reply_create(
        conversation_id=source.id, actor=agent.user, text="Komt eraan", idempotency_key=uuid.uuid4()
    )

    with pytest.raises(ServiceError, match="still waiting to be sent"):
        conversations_merge(source_id=source.id, target_id=target.id, actor=agent.user)
    assert Conversation.objects.get(id=source.id).merged_into_id is None


def test_merging_needs_the_right_to_change_both_conversations(
    two_conversations, agent, second_agent, team_lead
):
    source, target = two_conversations
    conversation_take(conversation_id=target.id, actor=agent.user)

    with pytest.raises(PermissionDenied):
        conversations_merge(source_id=source.id, target_id=target.id, actor=second_agent.user)
    conversations_merge(source_id=source.id, target_id=target.id, actor=team_lead.user)
    assert Conversation.objects.get(id=source.id).merged_into_id == target.id
