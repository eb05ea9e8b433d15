"""The approvals page of team leads, and what agents see of approval in the conversation."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from channels.services import channel_poll
from inbox.models import Conversation, FlaggedWord, Message
from inbox.services import reply_create, reply_reject
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def english_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    return client


def held_reply(channel, trainee, *, username: str = "daan", text: str = "Morgen.") -> Message:
    conversation = citizen_writes(channel, text=f"Vraag van {username}", username=username)
    return reply_create(
        conversation_id=conversation.id,
        actor=trainee.user,
        text=text,
        idempotency_key=uuid.uuid4(),
    )


def test_the_approvals_page_lists_the_queue_oldest_first_in_flat_queries(
    channel, trainee, team_lead, django_assert_max_num_queries
):
    held = [
        held_reply(channel, trainee, username=f"burger{n}", text=f"Antwoord {n}") for n in range(6)
    ]
    FlaggedWord.objects.create(word="stom")
    client = english_client(team_lead.user)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("inbox:approvals"))

    content = response.content.decode()
    assert response.status_code == 200
    positions = [content.index(f">Antwoord {n}</textarea>") for n in range(6)]
    assert positions == sorted(positions)
    assert "Vraag van burger0" in content  # the citizen's last message
    assert "Tess van Dijk" in content
    assert "the author is in training" in content
    assert f'href="{reverse("inbox:conversation", args=[held[0].conversation_id])}"' in content
    assert "stom" in content
    assert 'Approvals <span class="count">(6' in content  # the header link


def test_agents_cannot_see_the_approvals_page_or_approve(logged_in, channel, trainee, agent):
    message = held_reply(channel, trainee)
    client = logged_in(agent)

    assert client.get(reverse("inbox:approvals")).status_code == 403
    assert client.post(reverse("inbox:reply_approve", args=[message.id])).status_code == 403
    reject_url = reverse("inbox:reply_reject", args=[message.id])
    assert client.post(reject_url, {"feedback": "Nee"}).status_code == 403
    word_url = reverse("inbox:flagged_word_add")
    assert client.post(word_url, {"word": "stom"}).status_code == 403
    assert "inbox:approvals" not in client.get(reverse("inbox:inbox")).content.decode()
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL


def test_a_team_lead_approves_an_edited_reply_and_a_too_long_one_comes_back(
    channel, sandbox, trainee, team_lead
):
    sandbox.add_mention(text="Wanneer komt de vuilniswagen?", username="daan", name="Daan")
    assert channel_poll(channel_id=channel.id).succeeded
    message = reply_create(
        conversation_id=Conversation.objects.get().id,
        actor=trainee.user,
        text="Morgen.",
        idempotency_key=uuid.uuid4(),
    )
    client = english_client(team_lead.user)
    url = reverse("inbox:reply_approve", args=[message.id])

    too_long = client.post(url, {"text": "x" * 300})

    content = too_long.content.decode()
    assert too_long.status_code == 422
    assert 'role="alert"' in content
    assert "300 characters" in content
    assert ">" + "x" * 300 + "</textarea>" in content  # the edit is kept
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.AWAITING_APPROVAL

    approved = client.post(url, {"text": "Morgen vanaf 7.30 uur."})

    assert approved.status_code == 302
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    assert message.text == "Morgen vanaf 7.30 uur."
    assert message.reviewed_by == team_lead.user


def test_rejecting_needs_feedback_which_the_author_then_sees(channel, trainee, team_lead):
    message = held_reply(channel, trainee)
    client = english_client(team_lead.user)
    url = reverse("inbox:reply_reject", args=[message.id])

    without = client.post(url, {"feedback": ""})
    assert without.status_code == 422
    assert 'role="alert"' in without.content.decode()

    assert client.post(url, {"feedback": "Noem de ophaaldag."}).status_code == 302
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.REJECTED
    page = english_client(trainee.user).get(
        reverse("inbox:conversation", args=[message.conversation_id])
    )
    assert "Rejected:" in page.content.decode()
    assert "Noem de ophaaldag." in page.content.decode()


def test_a_reply_reviewed_by_another_lead_meanwhile_is_reported_not_shown_twice(
    channel, trainee, team_lead
):
    message = held_reply(channel, trainee)
    reply_reject(message_id=message.id, actor=team_lead.user, feedback="Te kort.")

    response = english_client(team_lead.user).post(
        reverse("inbox:reply_approve", args=[message.id]), follow=True
    )

    assert response.status_code == 200
    assert "already been reviewed" in response.content.decode()
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.REJECTED


def test_the_trainee_is_told_replies_are_reviewed_and_sees_them_wait(channel, trainee):
    conversation = citizen_writes(channel, text="Mijn paspoort is verlopen", username="ilse")
    client = english_client(trainee.user)
    page = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()
    assert "a team lead reviews your replies before they are sent" in page
    assert "Send for approval" in page

    response = client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": "Maak een afspraak via de website.", "idempotency_key": str(uuid.uuid4())},
        follow=True,
    )

    content = response.content.decode()
    assert "Your reply waits for a team lead&#x27;s approval." in content
    assert "Awaiting approval by a team lead" in content
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    status = client.get(reverse("inbox:reply_status", args=[message.id]))
    assert "Awaiting approval by a team lead" in status.content.decode()


def test_an_agent_not_in_training_is_not_told_about_review(logged_in, channel, agent):
    conversation = citizen_writes(channel)
    content = logged_in(agent).get(reverse("inbox:conversation", args=[conversation.id]))
    assert 'id="reply-review-notice"' not in content.content.decode()


def test_team_leads_manage_flagged_words_on_the_approvals_page(team_lead):
    client = english_client(team_lead.user)
    add = reverse("inbox:flagged_word_add")

    assert client.post(add, {"word": "stom"}).status_code == 302
    duplicate = client.post(add, {"word": "STOM"})
    assert duplicate.status_code == 422
    assert 'role="alert"' in duplicate.content.decode()
    assert 'value="STOM"' in duplicate.content.decode()

    flagged = FlaggedWord.objects.get()
    remove = reverse("inbox:flagged_word_remove", args=[flagged.pk])
    assert client.post(remove).status_code == 302
    assert not FlaggedWord.objects.exists()
