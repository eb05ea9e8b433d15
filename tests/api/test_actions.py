"""Assignment, lifecycle, notes and tags through the API: each endpoint calls its service,
answers with the conversation afterwards, and maps refusals to 409/403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import AuditEvent, Conversation, Team
from inbox.services import conversation_take
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def url(conversation: Conversation, action: str) -> str:
    return f"/api/v1/conversations/{conversation.id}/{action}/"


def test_an_agent_takes_a_conversation_from_the_queue(api_as, agent, conversation):
    response = api_as(agent).post(url(conversation, "take"))

    assert response.status_code == 200
    assert response.json()["assignee"]["username"] == "anouk"
    assert AuditEvent.objects.filter(action="conversation.assigned", actor=agent.user).exists()


def test_taking_a_colleagues_conversation_is_a_409(api_as, agent, second_agent, conversation):
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)

    response = api_as(agent).post(url(conversation, "take"))

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert Conversation.objects.get().assignee == second_agent.user


def test_actions_on_an_unknown_conversation_are_404(api_as, team_lead):
    client = api_as(team_lead)
    bodies = {
        "take": {},
        "assign": {"user_id": team_lead.user.pk},
        "transfer": {"user_id": team_lead.user.pk},
        "unassign": {},
        "resolve": {},
        "pending": {},
        "reopen": {},
        "snooze": {"until": (timezone.now() + timedelta(days=1)).isoformat()},
        "priority": {"priority": "high"},
        "merge": {"into_id": 1},
        "notes": {"text": "Hallo"},
        "tags": {"name": "afval"},
    }
    for action, body in bodies.items():
        response = client.post(f"/api/v1/conversations/987654/{action}/", body, format="json")
        assert response.status_code == 404, action
        assert response.json()["code"] == "not_found", action


def test_a_team_lead_assigns_to_a_colleague(api_as, team_lead, agent, conversation):
    response = api_as(team_lead).post(
        url(conversation, "assign"), {"user_id": agent.user.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["assignee"]["id"] == agent.user.pk


def test_only_team_leads_assign(api_as, agent, second_agent, conversation):
    response = api_as(agent).post(
        url(conversation, "assign"), {"user_id": second_agent.user.pk}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Conversation.objects.get().assignee is None


@pytest.mark.parametrize("body", [{}, {"user_id": "abc"}, {"user_id": 0}, [1, 2]])
def test_assign_needs_a_user_id(api_as, team_lead, conversation, body):
    response = api_as(team_lead).post(url(conversation, "assign"), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_transfer_to_a_team_with_a_note(api_as, agent, conversation):
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    parkeren = Team.objects.create(name="Parkeren")

    response = api_as(agent).post(
        url(conversation, "transfer"),
        {"team_id": parkeren.id, "note": "Gaat over een parkeervergunning"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["team"] == {"id": parkeren.id, "name": "Parkeren"}
    assert body["assignee"] is None
    assert conversation.notes.get().text == "Gaat over een parkeervergunning"


def test_a_transfer_needs_a_colleague_or_a_team(api_as, agent, conversation):
    response = api_as(agent).post(url(conversation, "transfer"), {"note": "x"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"]


def test_a_transfer_to_someone_outside_the_team_is_a_409(api_as, agent, outsider, conversation):
    response = api_as(agent).post(
        url(conversation, "transfer"), {"user_id": outsider.pk}, format="json"
    )

    assert response.status_code == 409


def test_an_agent_cannot_unassign_a_colleagues_conversation(
    api_as, agent, second_agent, conversation
):
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)

    response = api_as(agent).post(url(conversation, "unassign"))

    assert response.status_code == 403
    assert Conversation.objects.get().assignee == second_agent.user


def test_unassign_puts_it_back_in_the_queue(api_as, agent, conversation):
    conversation_take(conversation_id=conversation.id, actor=agent.user)

    response = api_as(agent).post(url(conversation, "unassign"))

    assert response.status_code == 200
    assert response.json()["assignee"] is None


def test_resolve_pending_and_reopen(api_as, agent, conversation):
    client = api_as(agent)
    conversation_take(conversation_id=conversation.id, actor=agent.user)

    assert client.post(url(conversation, "pending")).json()["status"] == "pending"
    assert client.post(url(conversation, "resolve")).json()["status"] == "resolved"
    cycles = client.get(f"/api/v1/conversations/{conversation.id}/").json()["care_cycles"]
    assert cycles[0]["resolved_at"] is not None
    again = client.post(url(conversation, "resolve"))
    assert again.status_code == 409
    assert client.post(url(conversation, "reopen")).json()["status"] == "open"


def test_snooze_until_a_moment(api_as, agent, conversation):
    until = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    response = api_as(agent).post(
        url(conversation, "snooze"), {"until": until.isoformat()}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "snoozed"
    assert body["snoozed_until"] is not None
    assert Conversation.objects.get().snoozed_until == until


@pytest.mark.parametrize("until", ["morgen", "", None])
def test_snooze_needs_a_moment(api_as, agent, conversation, until):
    response = api_as(agent).post(url(conversation, "snooze"), {"until": until}, format="json")

    assert response.status_code == 400
    assert "until" in response.json()["errors"]


def test_snoozing_into_the_past_is_a_409(api_as, agent, conversation):
    past = (timezone.now() - timedelta(hours=1)).isoformat()

    response = api_as(agent).post(url(conversation, "snooze"), {"until": past}, format="json")

    assert response.status_code == 409
    assert Conversation.objects.get().status == "open"


def test_priority_by_name(api_as, agent, conversation):
    client = api_as(agent)

    response = client.post(url(conversation, "priority"), {"priority": "urgent"}, format="json")

    assert response.status_code == 200
    assert response.json()["priority"] == "urgent"
    assert Conversation.objects.get().priority == Conversation.Priority.URGENT
    wrong = client.post(url(conversation, "priority"), {"priority": 4}, format="json")
    assert wrong.status_code == 400


def test_merge_into_another_conversation_of_the_citizen(api_as, agent, channel):
    first = citizen_writes(channel, username="burger", text="Eerste")
    second = citizen_writes(channel, username="burger", text="Tweede")

    response = api_as(agent).post(url(second, "merge"), {"into_id": first.id}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == first.id
    assert Conversation.objects.get(id=second.id).merged_into_id == first.id


def test_merging_into_itself_is_a_409(api_as, agent, conversation):
    response = api_as(agent).post(
        url(conversation, "merge"), {"into_id": conversation.id}, format="json"
    )

    assert response.status_code == 409


def test_notes_are_listed_oldest_first_and_paged(api_as, agent, second_agent, conversation):
    client = api_as(agent)
    for number in range(3):
        created = client.post(
            url(conversation, "notes"), {"text": f"Notitie {number} @bram"}, format="json"
        )
        assert created.status_code == 201
    assert created.json()["mentioned_user_ids"] == [second_agent.user.pk]

    first = client.get(url(conversation, "notes"), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    texts = [note["text"] for note in first["results"] + second["results"]]
    assert texts == ["Notitie 0 @bram", "Notitie 1 @bram", "Notitie 2 @bram"]


def test_an_empty_note_is_a_400(api_as, agent, conversation):
    response = api_as(agent).post(url(conversation, "notes"), {"text": "  "}, format="json")

    assert response.status_code == 400
    assert "text" in response.json()["errors"]


def test_notes_of_an_unknown_conversation_are_404(api_as, agent):
    assert api_as(agent).get("/api/v1/conversations/987654/notes/").status_code == 404


def test_tags_are_added_and_removed(api_as, agent, conversation):
    client = api_as(agent)

    added = client.post(url(conversation, "tags"), {"name": "Storing"}, format="json")

    assert added.status_code == 201
    tag = added.json()
    assert tag["name"] == "Storing"
    assert [
        t["name"] for t in client.get(f"/api/v1/conversations/{conversation.id}/").json()["tags"]
    ] == ["Storing"]
    removed = client.delete(f"/api/v1/conversations/{conversation.id}/tags/{tag['id']}/")
    assert removed.status_code == 204
    assert not conversation.tags.exists()


def test_an_agent_cannot_change_a_colleagues_conversation(
    api_as, agent, second_agent, conversation
):
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)

    response = api_as(agent).post(url(conversation, "resolve"))

    assert response.status_code == 403
    assert Conversation.objects.get().status == "open"


def test_actions_need_a_token_and_the_team(api_as, anonymous, outsider, conversation):
    assert anonymous.post(url(conversation, "take")).status_code == 401
    assert api_as(outsider).post(url(conversation, "take")).status_code == 403
    assert Conversation.objects.get().assignee is None


def test_a_get_on_an_action_is_a_405(api_as, agent, conversation):
    response = api_as(agent).get(url(conversation, "take"))

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_a_400(api_as, agent, conversation):
    response = api_as(agent).post(
        url(conversation, "priority"), "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_form_body_is_a_415(api_as, agent, conversation):
    response = api_as(agent).post(url(conversation, "priority"), {"priority": "high"})

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
