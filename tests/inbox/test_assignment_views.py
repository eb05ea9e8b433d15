"""Transfer, unassign and category on the conversation page; teams and routing rules for
team leads (inbox/views/assignment.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from inbox.models import AgentProfile, AuditEvent, Conversation, Note, RoutingRule, Team
from inbox.services import (
    ServiceError,
    agent_set_presence,
    conversation_take,
    conversation_transfer,
    conversation_unassign,
    conversations_assign_waiting,
    team_create,
    team_member_add,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def english(logged_in, settings):
    """`english(persona)`: logged in, with English chosen (the Dutch translations of this
    slice are merged into locale/ by the lead)."""

    def login(persona):
        client = logged_in(persona)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return login


@pytest.fixture
def conversation(channel, agent):
    conversation = citizen_writes(channel, username="els", text="Container vol")
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    return conversation


@pytest.fixture
def parkeren(team_lead, second_agent):
    team = team_create(actor=team_lead.user, name="Parkeren")
    team_member_add(actor=team_lead.user, team_id=team.id, user_id=second_agent.user_id)
    return team


# --- services: who may, and what is recorded ---------------------------------------------


def test_the_assignee_transfers_to_a_colleague_with_a_note(conversation, agent, second_agent):
    conversation_transfer(
        conversation_id=conversation.id,
        actor=agent.user,
        to_user_id=second_agent.user_id,
        note="Bram, jij kent deze buurt.",
    )

    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user
    note = Note.objects.get(conversation=conversation)
    assert note.text == "Bram, jij kent deze buurt."
    assert note.author == agent.user
    event = AuditEvent.objects.get(action="conversation.transferred")
    assert event.actor == agent.user
    assert event.data["previous_assignee_id"] == agent.user_id
    assert event.data["assignee_id"] == second_agent.user_id
    assert event.data["note_id"] == note.id


def test_a_transfer_to_a_team_goes_back_to_the_queue_and_to_a_team_member(
    conversation, agent, second_agent, parkeren, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        conversation_transfer(
            conversation_id=conversation.id, actor=agent.user, to_team_id=parkeren.id
        )
    assert len(callbacks) == 1  # assignment is asked to run

    conversation.refresh_from_db()
    assert (conversation.team, conversation.assignee) == (parkeren, None)
    conversations_assign_waiting()
    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user
    event = AuditEvent.objects.get(action="conversation.transferred")
    assert event.data["team_id"] == parkeren.id
    assert event.data["previous_team_id"] is None


def test_a_transfer_to_a_team_does_not_come_straight_back(conversation, agent, second_agent):
    team = Team.objects.create(name="Iedereen")
    for profile in (agent, second_agent):
        team.members.add(profile.user)
    conversation_transfer(conversation_id=conversation.id, actor=agent.user, to_team_id=team.id)

    conversations_assign_waiting()

    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user


def test_a_colleague_who_is_away_can_still_receive_a_transfer(conversation, agent, second_agent):
    agent_set_presence(actor=second_agent.user, presence="away")
    conversation_transfer(
        conversation_id=conversation.id, actor=agent.user, to_user_id=second_agent.user_id
    )
    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user


def test_only_the_assignee_or_a_team_lead_transfers_or_unassigns(
    conversation, agent, second_agent, team_lead, outsider
):
    with pytest.raises(PermissionDenied):
        conversation_transfer(
            conversation_id=conversation.id,
            actor=second_agent.user,
            to_user_id=second_agent.user_id,
        )
    with pytest.raises(PermissionDenied):
        conversation_unassign(conversation_id=conversation.id, actor=second_agent.user)
    with pytest.raises(PermissionDenied):
        conversation_unassign(conversation_id=conversation.id, actor=outsider)

    conversation_transfer(
        conversation_id=conversation.id, actor=team_lead.user, to_user_id=second_agent.user_id
    )
    conversation_unassign(conversation_id=conversation.id, actor=team_lead.user)

    conversation.refresh_from_db()
    assert conversation.assignee is None
    event = AuditEvent.objects.get(action="conversation.unassigned")
    assert event.actor == team_lead.user
    assert event.data["previous_assignee_id"] == second_agent.user_id
    assert event.data["reason"] == "manual"


def test_anyone_on_the_team_may_route_a_conversation_in_the_queue(channel, agent, parkeren):
    waiting = citizen_writes(channel, username="wacht", text="Boete")
    conversation_transfer(conversation_id=waiting.id, actor=agent.user, to_team_id=parkeren.id)
    waiting.refresh_from_db()
    assert waiting.team == parkeren


def test_a_transfer_needs_an_active_colleague_and_a_change(conversation, agent, outsider):
    with pytest.raises(ServiceError):
        conversation_transfer(conversation_id=conversation.id, actor=agent.user)
    with pytest.raises(ServiceError):
        conversation_transfer(
            conversation_id=conversation.id, actor=agent.user, to_user_id=outsider.pk
        )
    with pytest.raises(ServiceError):
        conversation_transfer(
            conversation_id=conversation.id, actor=agent.user, to_user_id=agent.user_id
        )
    conversation_unassign(conversation_id=conversation.id, actor=agent.user)
    with pytest.raises(ServiceError):
        conversation_unassign(conversation_id=conversation.id, actor=agent.user)


# --- the conversation page ---------------------------------------------------------------------


def test_the_conversation_page_offers_transfer_with_presence_and_load(
    english, conversation, agent, second_agent, parkeren
):
    agent_set_presence(actor=second_agent.user, presence="away")

    page = english(agent).get(reverse("inbox:conversation", args=[conversation.id]))

    content = page.content.decode()
    assert 'action="{}"'.format(reverse("inbox:transfer", args=[conversation.id])) in content
    assert 'action="{}"'.format(reverse("inbox:unassign", args=[conversation.id])) in content
    assert f'value="user:{second_agent.user_id}">Bram Bakker (Away, 0 of 8 open)' in content
    assert f'value="team:{parkeren.id}">Parkeren' in content
    assert 'name="category"' in content


def test_a_colleague_sees_no_unassign_on_someone_elses_conversation(
    logged_in, conversation, second_agent
):
    content = (
        logged_in(second_agent)
        .get(reverse("inbox:conversation", args=[conversation.id]))
        .content.decode()
    )
    assert reverse("inbox:unassign", args=[conversation.id]) not in content
    assert reverse("inbox:transfer", args=[conversation.id]) not in content


def test_transferring_through_the_page_says_when_the_colleague_is_away(
    english, conversation, agent, second_agent
):
    agent_set_presence(actor=second_agent.user, presence="away")
    client = english(agent)

    response = client.post(
        reverse("inbox:transfer", args=[conversation.id]),
        {"to": f"user:{second_agent.user_id}", "note": ""},
        follow=True,
    )

    assert "Transferred to Bram Bakker, who is away" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user
    assert not Note.objects.exists()


def test_a_colleague_cannot_unassign_through_the_page(logged_in, conversation, second_agent):
    response = logged_in(second_agent).post(reverse("inbox:unassign", args=[conversation.id]))
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.assignee is not None


def test_an_agent_flags_the_contact_on_the_page(logged_in, conversation, agent):
    response = logged_in(agent).post(
        reverse("inbox:contact_category", args=[conversation.id]), {"category": "press"}
    )
    assert response.status_code == 302
    conversation.contact.refresh_from_db()
    assert conversation.contact.category == "press"


# --- team leads' pages ------------------------------------------------------------------------


def test_agents_cannot_open_the_team_pages(logged_in, agent):
    client = logged_in(agent)
    assert client.get(reverse("inbox:team_list")).status_code == 403
    assert client.get(reverse("inbox:routing_rules")).status_code == 403
    assert client.post(reverse("inbox:team_create"), {"name": "X"}).status_code == 403


def test_the_team_page_lists_members_presence_and_load_in_flat_queries(
    english, team_lead, agent, second_agent, parkeren, channel, django_assert_max_num_queries
):
    team_member_add(actor=team_lead.user, team_id=parkeren.id, user_id=agent.user_id)
    for number in range(3):
        citizen_writes(channel, username=f"b{number}")
    conversations_assign_waiting()
    client = english(team_lead)
    client.get(reverse("inbox:inbox"))  # last_seen_at is written; not part of the count

    with django_assert_max_num_queries(10):
        page = client.get(reverse("inbox:team_list"))

    content = page.content.decode()
    assert "Parkeren" in content
    assert "2 members can take a conversation now." in content
    loads = sorted(
        Conversation.objects.filter(assignee__isnull=False).values_list("assignee_id", flat=True)
    )
    assert len(loads) == 3
    assert "2 / 8" in content
    assert "1 / 8" in content


def test_a_team_lead_manages_teams_members_and_capacity_on_the_page(logged_in, team_lead, agent):
    client = logged_in(team_lead)
    assert client.post(reverse("inbox:team_create"), {"name": "Burgerzaken"}).status_code == 302
    team = Team.objects.get(name="Burgerzaken")
    client.post(reverse("inbox:team_member_add", args=[team.id]), {"user_id": agent.user_id})
    assert list(team.members.all()) == [agent.user]
    client.post(
        reverse("inbox:team_update", args=[team.id]),
        {"name": "Burgerzaken", "description": "Paspoort, rijbewijs", "is_default": "on"},
    )
    client.post(reverse("inbox:agent_settings", args=[agent.user_id]), {"capacity": "3"})
    client.post(reverse("inbox:team_member_remove", args=[team.id]), {"user_id": agent.user_id})

    team.refresh_from_db()
    agent.refresh_from_db()
    assert team.is_default
    assert team.description == "Paspoort, rijbewijs"
    assert not team.members.exists()
    assert (agent.capacity, agent.in_training) == (3, False)
    duplicate = client.post(reverse("inbox:team_create"), {"name": "burgerzaken"})
    assert duplicate.status_code == 422
    assert 'role="alert"' in duplicate.content.decode()


def test_a_team_lead_creates_edits_and_deletes_a_routing_rule(
    logged_in, team_lead, parkeren, channel
):
    client = logged_in(team_lead)
    response = client.post(
        reverse("inbox:routing_rules"),
        {
            "name": "Parkeren",
            "position": "10",
            "is_active": "on",
            "keywords": "parkeren, #parkeervergunning",
            "contact_category": "",
            "channel": str(channel.id),
            "team": str(parkeren.id),
            "priority": "3",
        },
    )
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.keywords, rule.priority, rule.channel) == (
        "parkeren\n#parkeervergunning",
        3,
        channel,
    )
    page = client.get(reverse("inbox:routing_rules")).content.decode()
    assert "#parkeervergunning" in page

    edit = client.get(reverse("inbox:routing_rule_edit", args=[rule.id]))
    assert edit.status_code == 200
    client.post(
        reverse("inbox:routing_rule_edit", args=[rule.id]),
        {
            "name": "Parkeren",
            "position": "10",
            "keywords": "",
            "team": str(parkeren.id),
            "priority": "2",
        },
    )
    rule.refresh_from_db()
    assert (rule.is_active, rule.keywords, rule.channel) == (False, "", None)

    invalid = client.post(reverse("inbox:routing_rules"), {"name": "", "team": ""})
    assert invalid.status_code == 422

    client.post(reverse("inbox:routing_rule_delete", args=[rule.id]))
    assert not RoutingRule.objects.exists()


def test_team_leads_see_the_teams_link(logged_in, team_lead, agent):
    assert reverse("inbox:team_list") in logged_in(team_lead).get("/").content.decode()
    assert reverse("inbox:team_list") not in logged_in(agent).get("/").content.decode()
    assert AgentProfile.objects.get(user=team_lead.user).role == "team_lead"
