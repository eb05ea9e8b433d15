"""Replies signed with the agent's initials on channels whose team signs ("^JdV")."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from channels.models import Channel
from inbox.models import AgentProfile, Message
from inbox.services import ServiceError, reply_create
from inbox.signatures import initials_signature, signed
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("first_name", "last_name", "signature"),
    [
        ("Jan", "de Vries", "^JdV"),
        ("Anouk", "Jansen", "^AJ"),
        ("Kees", "van 't Hof", "^KvtH"),
        ("Fatima", "El Amrani", "^FEA"),
        ("", "", ""),
    ],
)
def test_the_signature_is_the_initials_with_particles_in_lower_case(
    first_name, last_name, signature
):
    assert initials_signature(first_name, last_name) == signature


def test_a_reply_is_signed_once():
    assert signed("Graag gedaan! ", "^AJ") == "Graag gedaan! ^AJ"
    assert signed("Graag gedaan! ^AJ", "^AJ") == "Graag gedaan! ^AJ"
    assert signed("Graag gedaan!", "") == "Graag gedaan!"


def answer(conversation, agent, text: str) -> Message:
    return reply_create(
        conversation_id=conversation.id, actor=agent.user, text=text, idempotency_key=uuid.uuid4()
    )


@pytest.fixture
def signing_channel(channel) -> Channel:
    Channel.objects.filter(id=channel.id).update(append_signature=True)
    channel.refresh_from_db()
    return channel


def test_replies_on_a_signing_channel_end_with_the_agents_initials(signing_channel, agent):
    conversation = citizen_writes(signing_channel)

    reply = answer(conversation, agent, "De vuilniswagen komt morgen.")

    assert reply.text == "De vuilniswagen komt morgen. ^AJ"


def test_an_agents_own_signature_wins_over_the_initials(signing_channel, agent):
    AgentProfile.objects.filter(id=agent.id).update(signature="^Anouk")
    conversation = citizen_writes(signing_channel)

    assert answer(conversation, agent, "Dank!").text == "Dank! ^Anouk"


def test_the_signature_counts_towards_the_platform_limit(signing_channel, agent):
    conversation = citizen_writes(signing_channel)

    # 277 + " ^AJ" = 281 > 280 on X.
    with pytest.raises(ServiceError, match="281"):
        answer(conversation, agent, "a" * 277)
    assert answer(conversation, agent, "a" * 276).text.endswith(" ^AJ")


def test_a_channel_that_does_not_sign_leaves_the_reply_as_written(channel, agent):
    conversation = citizen_writes(channel)

    assert answer(conversation, agent, "Dank!").text == "Dank!"


def test_the_composer_shows_and_counts_the_signature(signing_channel, agent, client):
    conversation = citizen_writes(signing_channel)
    client.force_login(agent.user)

    html = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()

    assert 'data-signature="^AJ"' in html
    assert "Je ondertekening ^AJ komt onderaan je antwoord, en telt mee." in html
