"""Canned responses, agents and teams, and channels through the API."""

from __future__ import annotations

import pytest

from channels.models import Channel
from inbox.models import AgentProfile, CannedResponse, Team, TeamMembership
from inbox.services import canned_response_create

pytestmark = pytest.mark.django_db

CANNED = "/api/v1/canned-responses/"


def test_canned_responses_are_listed_and_filled_in_for_a_conversation(
    api_as, agent, shared_canned, conversation
):
    client = api_as(agent)

    listed = client.get(CANNED, {"q": "/afv"}).json()["results"]
    assert [row["shortcut"] for row in listed] == ["afval"]
    assert listed[0]["rendered_text"] is None
    rendered = client.get(CANNED, {"conversation": conversation.id}).json()["results"][0]

    assert rendered["rendered_text"] == "Hoi Burger, sorry! Groet, Anouk"
    assert rendered["shared"] is True
    assert client.get(CANNED, {"conversation": 98765}).status_code == 404
    assert client.get(CANNED, {"conversation": "x"}).status_code == 400


def test_an_agent_creates_edits_and_deletes_a_personal_response(api_as, agent):
    client = api_as(agent)

    created = client.post(
        CANNED, {"shortcut": "groet", "title": "Groet", "text": "Hoi!"}, format="json"
    )
    assert created.status_code == 201
    response_id = created.json()["id"]
    assert created.json()["owner_id"] == agent.user.pk
    edited = client.patch(f"{CANNED}{response_id}/", {"text": "Hallo!"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["text"] == "Hallo!"
    assert edited.json()["shortcut"] == "groet"
    assert client.delete(f"{CANNED}{response_id}/").status_code == 204
    assert not CannedResponse.objects.exists()


def test_only_team_leads_manage_shared_responses(api_as, agent, team_lead, shared_canned):
    client = api_as(agent)

    created = client.post(
        CANNED, {"shortcut": "team", "title": "T", "text": "x", "shared": True}, format="json"
    )
    assert created.status_code == 403
    assert (
        client.patch(f"{CANNED}{shared_canned.id}/", {"text": "x"}, format="json").status_code
        == 403
    )
    assert client.delete(f"{CANNED}{shared_canned.id}/").status_code == 403
    lead = api_as(team_lead)
    assert (
        lead.patch(f"{CANNED}{shared_canned.id}/", {"title": "Nieuw"}, format="json").status_code
        == 200
    )


def test_a_colleagues_personal_response_is_a_404(api_as, agent, second_agent):
    theirs = canned_response_create(
        actor=second_agent.user, shortcut="mijn", title="Mijn", text="x", shared=False
    )

    assert api_as(agent).get(f"{CANNED}{theirs.id}/").status_code == 404
    assert api_as(second_agent).get(f"{CANNED}{theirs.id}/").status_code == 200


def test_a_shortcut_taken_is_a_409_and_a_bad_one_a_400(api_as, team_lead, shared_canned):
    client = api_as(team_lead)
    body = {"shortcut": "afval", "title": "x", "text": "x", "shared": True}

    assert client.post(CANNED, body, format="json").status_code == 409
    assert (
        client.post(CANNED, {**body, "shortcut": "geen spaties"}, format="json").status_code == 400
    )


def test_canned_responses_cost_the_same_queries_for_more(
    api_as, agent, team_lead, django_assert_max_num_queries
):
    client = api_as(agent)
    team = Team.objects.create(name="Afval")
    TeamMembership.objects.create(team=team, user=agent.user)
    for number in range(15):
        canned_response_create(
            actor=team_lead.user,
            shortcut=f"s{number}",
            title="t",
            text="x",
            shared=True,
            team_id=team.id,
        )
    with django_assert_max_num_queries(5):
        assert len(client.get(CANNED).json()["results"]) == 15


def test_agents_are_listed_with_presence_capacity_load_and_teams(
    api_as, agent, second_agent, team_lead, conversation, django_assert_max_num_queries
):
    from inbox.services import conversation_take

    conversation_take(conversation_id=conversation.id, actor=agent.user)
    team = Team.objects.create(name="Parkeren")
    TeamMembership.objects.create(team=team, user=agent.user)
    client = api_as(second_agent)

    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/agents/")

    rows = {row["username"]: row for row in response.json()["results"]}
    assert rows["anouk"]["load"] == 1
    assert rows["anouk"]["presence"] == "available"
    assert rows["anouk"]["teams"] == [{"id": team.id, "name": "Parkeren"}]
    assert rows["lotte"]["role"] == "team_lead"
    assert rows["bram"]["capacity"] == 8
    assert client.get(f"/api/v1/agents/{agent.user.pk}/").json()["load"] == 1


def test_agents_set_their_presence(api_as, agent):
    client = api_as(agent)

    assert client.get("/api/v1/agents/me/presence/").json()["presence"] == "available"
    response = client.put("/api/v1/agents/me/presence/", {"presence": "away"}, format="json")

    assert response.status_code == 200
    assert response.json()["presence"] == "away"
    assert AgentProfile.objects.get(user=agent.user).presence == "away"
    bad = client.put("/api/v1/agents/me/presence/", {"presence": "gone"}, format="json")
    assert bad.status_code == 400


def test_team_leads_set_capacity_and_training(api_as, team_lead, agent):
    url = f"/api/v1/agents/{agent.user.pk}/"

    response = api_as(team_lead).patch(url, {"capacity": 3, "in_training": True}, format="json")

    assert response.status_code == 200
    assert response.json()["capacity"] == 3
    assert response.json()["in_training"] is True
    assert api_as(agent).patch(url, {"capacity": 20}, format="json").status_code == 403
    assert api_as(team_lead).patch(url, {"capacity": 1000}, format="json").status_code == 400
    assert (
        api_as(team_lead).patch("/api/v1/agents/98765/", {"capacity": 1}, format="json").status_code
        == 404
    )


def test_teams_are_listed_with_their_members(api_as, agent):
    team = Team.objects.create(name="Burgerzaken", is_default=True)
    TeamMembership.objects.create(team=team, user=agent.user)

    rows = api_as(agent).get("/api/v1/teams/").json()["results"]

    assert rows == [
        {
            "id": team.id,
            "name": "Burgerzaken",
            "description": "",
            "is_default": True,
            "member_ids": [agent.user.pk],
        }
    ]


# --- channels --------------------------------------------------------------------------------


def test_administrators_see_channel_health(api_as, administrator, channel):
    client = api_as(administrator)

    rows = client.get("/api/v1/channels/").json()["results"]
    health = client.get(f"/api/v1/channels/{channel.id}/health/")

    assert [row["name"] for row in rows] == ["demodorp-x"]
    assert "credentials_encrypted" not in rows[0]
    assert health.status_code == 200
    assert health.json()["health"] == "unknown"
    assert health.json()["open_quarantine"] == 0


def test_agents_team_leads_and_outsiders_may_not_manage_channels(
    api_as, agent, team_lead, outsider, channel
):
    for client in (api_as(agent), api_as(team_lead), api_as(outsider)):
        assert client.get("/api/v1/channels/").status_code == 403
        assert client.post(f"/api/v1/channels/{channel.id}/poll/").status_code == 403


def test_a_superuser_creates_a_channel(api_as, django_user_model, sandbox):
    admin = django_user_model.objects.create_superuser(username="it", password="x" * 20)

    response = api_as(admin).post(
        "/api/v1/channels/",
        {
            "kind": "mastodon",
            "name": "demodorp-mastodon",
            "account_id": "42",
            "api_base_url": sandbox.url,
            "credentials": {"access_token": "geheim"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "mastodon"
    assert "geheim" not in response.content.decode()
    assert Channel.objects.get(name="demodorp-mastodon").credentials_encrypted


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "myspace", "name": "x", "account_id": "1", "credentials": {}}, 400),
        ({"kind": "mastodon", "name": "met spatie", "account_id": "1", "credentials": {}}, 400),
        ({"kind": "mastodon", "name": "m", "account_id": "1", "credentials": {"A B": "x"}}, 400),
        ({"kind": "mastodon", "name": "m", "account_id": "1", "credentials": {}}, 409),
    ],
)
def test_channel_creation_refuses_bad_input(api_as, administrator, body, status):
    response = api_as(administrator).post("/api/v1/channels/", body, format="json")

    assert response.status_code == status
    assert not Channel.objects.exists()


def test_poll_now_queues_the_poll_task(api_as, administrator, channel, monkeypatch):
    from channels import tasks

    queued = []
    monkeypatch.setattr(tasks.poll, "delay", queued.append)

    response = api_as(administrator).post(f"/api/v1/channels/{channel.id}/poll/")

    assert response.status_code == 202
    assert queued == [channel.id]
    assert api_as(administrator).post("/api/v1/channels/98765/poll/").status_code == 404
