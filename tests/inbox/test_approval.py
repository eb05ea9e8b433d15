"""Four-eyes approval: trainees' replies and replies with flagged words wait for a team lead."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import override

from channels.models import Channel
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create, channel_poll
from inbox.models import AuditEvent, Conversation, FlaggedWord, Message
from inbox.services import (
    ServiceError,
    flagged_word_add,
    flagged_word_remove,
    flagged_words_in,
    reply_approve,
    reply_create,
    reply_deliver,
    reply_reject,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(channel, sandbox) -> Conversation:
    # Through the sandbox, so that a reply has a real tweet to answer.
    sandbox.add_mention(text="Wanneer wordt mijn container geleegd?", username="daan", name="Daan")
    assert channel_poll(channel_id=channel.id).succeeded
    return Conversation.objects.get()


def reply(conversation: Conversation, actor, text: str = "Morgen vanaf 7.30 uur.") -> Message:
    return reply_create(
        conversation_id=conversation.id, actor=actor, text=text, idempotency_key=uuid.uuid4()
    )


def actions(message: Message) -> list[str]:
    return list(
        AuditEvent.objects.filter(message=message).order_by("id").values_list("action", flat=True)
    )


def test_a_trainees_reply_waits_for_approval_and_is_not_delivered(
    conversation, trainee, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = reply(conversation, trainee.user)

    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL
    assert message.approval_reason == "in training"
    assert message.next_attempt_at is None
    assert callbacks == []  # no delivery task
    # Even a stray delivery task (recovery sweep, a bug) cannot claim it.
    reply_deliver(message_id=message.id)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL
    assert sandbox.replies() == []
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None  # the citizen still waits
    assert conversation.assignee == trainee.user
    event = AuditEvent.objects.get(action="reply.awaiting_approval")
    assert event.message_id == message.id
    assert event.actor == trainee.user
    assert event.data["reason"] == "in training"
    assert actions(message) == ["reply.awaiting_approval"]


def test_approving_queues_the_reply_and_it_is_delivered(
    conversation, trainee, team_lead, sandbox, django_capture_on_commit_callbacks
):
    message = reply(conversation, trainee.user)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approved = reply_approve(message_id=message.id, actor=team_lead.user)

    assert approved.delivery_status == Message.DeliveryStatus.QUEUED
    assert approved.reviewed_by == team_lead.user
    assert approved.reviewed_at is not None
    assert approved.next_attempt_at is not None
    assert len(callbacks) == 1  # the delivery task, after commit
    reply_deliver(message_id=message.id)
    message.refresh_from_db()
    [posted] = sandbox.replies()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert posted["text"] == message.text
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    assert actions(message) == ["reply.awaiting_approval", "reply.approved", "reply.sent"]
    approved_event = AuditEvent.objects.get(action="reply.approved")
    assert approved_event.actor == team_lead.user
    assert approved_event.data["edited"] is False


def test_a_reply_is_approved_only_once(conversation, trainee, team_lead):
    message = reply(conversation, trainee.user)
    reply_approve(message_id=message.id, actor=team_lead.user)

    with pytest.raises(ServiceError):
        reply_approve(message_id=message.id, actor=team_lead.user)
    with pytest.raises(ServiceError):
        reply_reject(message_id=message.id, actor=team_lead.user, feedback="Te laat")
    assert AuditEvent.objects.filter(action="reply.approved").count() == 1


def test_agents_cannot_approve_reject_or_manage_flagged_words(
    conversation, trainee, agent, second_agent
):
    message = reply(conversation, trainee.user)
    flagged = FlaggedWord.objects.create(word="stom")

    with pytest.raises(PermissionDenied, match="team lead"), override("en"):
        reply_approve(message_id=message.id, actor=agent.user)
    with pytest.raises(PermissionDenied), override("en"):
        reply_reject(message_id=message.id, actor=second_agent.user, feedback="Nee")
    with pytest.raises(PermissionDenied):
        reply_approve(message_id=message.id, actor=trainee.user)
    with pytest.raises(PermissionDenied):
        flagged_word_add(actor=agent.user, word="dom")
    with pytest.raises(PermissionDenied):
        flagged_word_remove(actor=agent.user, flagged_word_id=flagged.pk)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL
    assert FlaggedWord.objects.count() == 1


def test_rejecting_needs_feedback_and_the_reply_is_never_sent(
    conversation, trainee, team_lead, sandbox
):
    message = reply(conversation, trainee.user)

    with pytest.raises(ServiceError):
        reply_reject(message_id=message.id, actor=team_lead.user, feedback="   ")
    rejected = reply_reject(
        message_id=message.id, actor=team_lead.user, feedback="Noem de ophaaldag, niet de tijd."
    )

    assert rejected.delivery_status == Message.DeliveryStatus.REJECTED
    assert rejected.review_feedback == "Noem de ophaaldag, niet de tijd."
    assert rejected.reviewed_by == team_lead.user
    reply_deliver(message_id=message.id)
    assert sandbox.replies() == []
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None
    assert actions(message) == ["reply.awaiting_approval", "reply.rejected"]
    assert AuditEvent.objects.get(action="reply.rejected").actor == team_lead.user


def test_an_edited_reply_is_checked_again_and_sent_as_edited_without_a_second_signature(
    conversation, channel, trainee, team_lead, sandbox
):
    Channel.objects.filter(id=channel.id).update(append_signature=True)
    message = reply(conversation, trainee.user, text="Morgen.")
    assert message.text == "Morgen. ^TvD"

    with pytest.raises(ServiceError, match="281"):
        reply_approve(message_id=message.id, actor=team_lead.user, text="x" * 281)
    with pytest.raises(ServiceError):
        reply_approve(message_id=message.id, actor=team_lead.user, text="  ")
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL
    assert message.text == "Morgen. ^TvD"

    approved = reply_approve(
        message_id=message.id,
        actor=team_lead.user,
        text="Morgen vanaf 7.30 uur komt de wagen langs.\r\n^TvD",
    )

    assert approved.text == "Morgen vanaf 7.30 uur komt de wagen langs.\n^TvD"
    reply_deliver(message_id=message.id)
    [posted] = sandbox.replies()
    assert posted["text"] == "Morgen vanaf 7.30 uur komt de wagen langs.\n^TvD"
    assert AuditEvent.objects.get(action="reply.approved").data["edited"] is True


def test_an_unchanged_text_from_the_form_is_not_an_edit(conversation, trainee, team_lead):
    message = reply(conversation, trainee.user, text="Regel een.\nRegel twee.")

    reply_approve(message_id=message.id, actor=team_lead.user, text="Regel een.\r\nRegel twee.\r\n")

    assert AuditEvent.objects.get(action="reply.approved").data["edited"] is False


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Wat een stomme vraag", False),  # not the whole word
        ("Dat is STOM van ons", True),  # case
        ("Dat is stóm gelopen", True),  # accents
        ("stom!", True),  # punctuation is a word boundary
        ("Dat was domweg pech", False),
        ("Excuses, dat was dom.", True),
        ("Neem contact op met de Ombudsman", True),  # phrase of two words, other case
        ("Neem contact op met de ombudsmannen", False),
    ],
)
def test_flagged_words_hold_a_reply_as_whole_words_ignoring_case_and_accents(
    conversation, agent, team_lead, text, held
):
    flagged_word_add(actor=team_lead.user, word="stom")
    flagged_word_add(actor=team_lead.user, word="dom")
    flagged_word_add(actor=team_lead.user, word="de ombudsman")

    message = reply(conversation, agent.user, text=text)

    expected = Message.DeliveryStatus.AWAITING_APPROVAL if held else Message.DeliveryStatus.QUEUED
    assert message.delivery_status == expected
    assert message.approval_reason.startswith("flagged word: ") is held


def test_the_reason_names_the_flagged_words_and_training(conversation, trainee, team_lead):
    flagged_word_add(actor=team_lead.user, word="Kút")

    message = reply(conversation, trainee.user, text="Dat is kut, sorry!")

    assert message.approval_reason == "in training; flagged word: Kút"
    assert flagged_words_in("Kut zeg", ["kút", "zeg", "nee"]) == ["kút", "zeg"]


def test_team_leads_own_replies_are_never_held(conversation, team_lead):
    flagged_word_add(actor=team_lead.user, word="stom")

    message = reply(conversation, team_lead.user, text="Dat was stom van ons, excuses.")

    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    assert message.approval_reason == ""


def test_flagged_words_are_unique_ignoring_case_and_their_changes_are_audited(team_lead):
    flagged = flagged_word_add(actor=team_lead.user, word="  Stom  ")
    assert flagged.word == "Stom"

    with pytest.raises(ServiceError):
        flagged_word_add(actor=team_lead.user, word="stom")
    with pytest.raises(ServiceError):
        flagged_word_add(actor=team_lead.user, word=" !? ")
    flagged_word_remove(actor=team_lead.user, flagged_word_id=flagged.pk)
    with pytest.raises(ServiceError):
        flagged_word_remove(actor=team_lead.user, flagged_word_id=flagged.pk)

    assert not FlaggedWord.objects.exists()
    assert list(
        AuditEvent.objects.order_by("id")
        .filter(action__startswith="flagged_word.")
        .values_list("action", "data__word")
    ) == [("flagged_word.added", "Stom"), ("flagged_word.removed", "Stom")]


def test_approving_after_the_private_window_closed_is_refused_with_a_reason(
    sandbox, trainee, team_lead
):
    page = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )
    sandbox.add_facebook_message(
        "Mijn uitkering is niet overgemaakt",
        "Joke",
        created_at=timezone.now() - timedelta(hours=23),
    )
    assert channel_poll(channel_id=page.id).succeeded
    conversation = Conversation.objects.get()
    message = reply(conversation, trainee.user, text="We bellen je vandaag terug.")
    assert message.is_private
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL

    with (
        time_machine.travel(timezone.now() + timedelta(hours=2)),
        override("en"),
        pytest.raises(ServiceError, match="can no longer be sent"),
    ):
        reply_approve(message_id=message.id, actor=team_lead.user)

    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL
    assert sandbox.facebook_message_replies() == []
