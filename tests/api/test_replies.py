"""Replies, delivery status and four-eyes approval through the API."""

from __future__ import annotations

import uuid

import pytest

from inbox.models import Message
from inbox.services import agent_update_settings
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def replies_url(conversation) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/conversations/{conversation.id}/replies/"


def test_a_reply_is_queued_and_returned_with_its_delivery_status(api_as, agent, conversation):
    response = api_as(agent).post(
        replies_url(conversation), {"text": "Sorry, we sturen iemand langs."}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["direction"] == "outbound"
    assert body["delivery_status"] == "queued"
    assert body["author"] == {
        "kind": "agent",
        "user_id": agent.user.pk,
        "contact_id": None,
        "name": "Anouk Jansen",
    }
    assert "Sorry, we sturen iemand langs." in body["text"]
    polled = api_as(agent).get(f"/api/v1/messages/{body['id']}/")
    assert polled.status_code == 200
    assert polled.json()["delivery_status"] == "queued"


def test_the_same_idempotency_key_gives_one_reply(api_as, agent, conversation):
    client = api_as(agent)
    key = str(uuid.uuid4())

    first = client.post(
        replies_url(conversation), {"text": "Eén keer"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    second = client.post(
        replies_url(conversation), {"text": "Eén keer"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert first.json()["id"] == second.json()["id"]
    assert Message.objects.filter(direction="outbound").count() == 1


def test_without_a_key_each_request_is_a_new_reply(api_as, agent, conversation):
    client = api_as(agent)
    client.post(replies_url(conversation), {"text": "Een"}, format="json")
    client.post(replies_url(conversation), {"text": "Twee"}, format="json")

    assert Message.objects.filter(direction="outbound").count() == 2


def test_an_idempotency_key_that_is_not_a_uuid_is_a_400(api_as, agent, conversation):
    response = api_as(agent).post(
        replies_url(conversation), {"text": "Hoi"}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Message.objects.filter(direction="outbound").exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "Hoi", "visibility": "secret"}, {"text": "x" * 10_001}],
)
def test_invalid_replies_are_a_400(api_as, agent, conversation, body):
    response = api_as(agent).post(replies_url(conversation), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_reply_too_long_for_the_platform_is_a_409(api_as, agent, conversation):
    response = api_as(agent).post(replies_url(conversation), {"text": "x" * 400}, format="json")

    assert response.status_code == 409
    assert "280" in response.json()["detail"]


def test_a_private_reply_is_a_direct_message(api_as, agent, conversation):
    response = api_as(agent).post(
        replies_url(conversation),
        {"text": "Stuur je adres?", "visibility": "private"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["is_private"] is True


def test_a_reply_on_top_of_newer_messages_needs_confirmation(
    api_as, agent, channel, conversation, inbound
):
    citizen_writes(
        channel, text="Hallo??", username="burger", thread=conversation.external_thread_id
    )
    client = api_as(agent)
    body = {"text": "Komt goed", "seen_message_id": inbound.id}

    refused = client.post(replies_url(conversation), body, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "newer_messages"
    confirmed = client.post(
        replies_url(conversation), {**body, "confirm_newer": True}, format="json"
    )
    assert confirmed.status_code == 201


def test_replies_need_the_team(api_as, anonymous, outsider, conversation):
    assert (
        anonymous.post(replies_url(conversation), {"text": "x"}, format="json").status_code == 401
    )
    assert (
        api_as(outsider).post(replies_url(conversation), {"text": "x"}, format="json").status_code
        == 403
    )


def test_replies_to_an_unknown_conversation_or_message_are_404(api_as, agent):
    client = api_as(agent)
    assert (
        client.post(
            "/api/v1/conversations/98765/replies/", {"text": "x"}, format="json"
        ).status_code
        == 404
    )
    assert client.get("/api/v1/messages/98765/").status_code == 404


@pytest.fixture
def trainee_reply(api_as, agent, team_lead, conversation):  # type: ignore[no-untyped-def]
    agent_update_settings(actor=team_lead.user, user_id=agent.user.pk, in_training=True)
    response = api_as(agent).post(
        replies_url(conversation), {"text": "Mijn eerste antwoord"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["delivery_status"] == "awaiting_approval"
    return response.json()


def test_a_team_lead_sees_and_approves_a_trainees_reply(api_as, team_lead, trainee_reply):
    client = api_as(team_lead)

    waiting = client.get("/api/v1/replies/awaiting-approval/").json()["results"]
    assert [reply["id"] for reply in waiting] == [trainee_reply["id"]]
    approved = client.post(
        f"/api/v1/replies/{trainee_reply['id']}/approve/", {"text": "Ons antwoord"}, format="json"
    )

    assert approved.status_code == 200
    assert approved.json()["delivery_status"] == "queued"
    assert "Ons antwoord" in approved.json()["text"]
    assert client.get("/api/v1/replies/awaiting-approval/").json()["results"] == []


def test_a_team_lead_rejects_with_feedback(api_as, team_lead, trainee_reply):
    client = api_as(team_lead)
    reject_url = f"/api/v1/replies/{trainee_reply['id']}/reject/"

    assert client.post(reject_url, {}, format="json").status_code == 400
    rejected = client.post(reject_url, {"feedback": "Vriendelijker graag"}, format="json")

    assert rejected.status_code == 200
    assert rejected.json()["delivery_status"] == "rejected"
    assert rejected.json()["review_feedback"] == "Vriendelijker graag"
    assert client.post(reject_url, {"feedback": "Nog eens"}, format="json").status_code == 409


def test_agents_cannot_approve_or_see_the_approval_queue(api_as, agent, trainee_reply):
    client = api_as(agent)

    assert client.get("/api/v1/replies/awaiting-approval/").status_code == 403
    assert (
        client.post(
            f"/api/v1/replies/{trainee_reply['id']}/approve/", {}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/replies/{trainee_reply['id']}/reject/", {"feedback": "x"}, format="json"
        ).status_code
        == 403
    )


def test_approving_an_unknown_reply_is_a_404(api_as, team_lead):
    response = api_as(team_lead).post("/api/v1/replies/98765/approve/", {}, format="json")

    assert response.status_code == 404


def test_the_approval_queue_costs_the_same_queries_for_more_replies(
    api_as, agent, team_lead, channel, django_assert_max_num_queries
):
    agent_update_settings(actor=team_lead.user, user_id=agent.user.pk, in_training=True)
    trainee, lead = api_as(agent), api_as(team_lead)
    for number in range(2):
        conversation = citizen_writes(channel, username=f"een{number}")
        trainee.post(replies_url(conversation), {"text": "Hoi"}, format="json")
    with django_assert_max_num_queries(5):
        lead.get("/api/v1/replies/awaiting-approval/")
    for number in range(10):
        conversation = citizen_writes(channel, username=f"twee{number}")
        trainee.post(replies_url(conversation), {"text": "Hoi"}, format="json")
    with django_assert_max_num_queries(5):
        assert len(lead.get("/api/v1/replies/awaiting-approval/").json()["results"]) == 12
