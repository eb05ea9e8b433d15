"""The live-updates check (inbox/views/live.py): 204 and a handful of queries while nothing
changed; the new cursor and what the agent should hear about when something did."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from channels.services import channel_poll
from inbox.models import AgentProfile, Conversation
from inbox.selectors.live import LiveCursor, live_changes_between, live_cursor_current
from inbox.services import (
    agent_set_presence,
    conversation_resolve,
    conversation_take,
    conversation_transfer,
    note_create,
    team_create,
    team_member_add,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

URL = reverse("inbox:live_changes")


def poll(client: Any, since: str | None = None) -> Any:
    return client.get(URL, {"since": since} if since is not None else {})


def cursor_now(client: Any) -> str:
    response = poll(client)
    assert response.status_code == 200
    return response.json()["cursor"]


def test_a_first_call_without_cursor_gives_the_cursor_and_counts_but_nothing_new(
    logged_in, agent, channel
):
    citizen_writes(channel, username="els")
    response = poll(logged_in(agent))

    assert response.status_code == 200
    data = response.json()
    assert LiveCursor.parse(data["cursor"]) == live_cursor_current()
    assert data["waiting_queue"] == 1
    assert data["waiting"] == 1
    assert data["new_messages"] == 0
    assert data["conversation_ids"] == []
    assert response["Cache-Control"].startswith("max-age=0")


def test_nothing_changed_answers_204_without_body_in_four_queries(
    logged_in, agent, channel, django_assert_max_num_queries
):
    citizen_writes(channel, username="els")
    client = logged_in(agent)
    cursor = cursor_now(client)

    # Session, user, agent profile (staff_required), and one query for both newest ids.
    with django_assert_max_num_queries(4):
        response = poll(client, cursor)

    assert response.status_code == 204
    assert response.content == b""


def test_the_check_itself_is_one_query(agent, channel, django_assert_num_queries):
    citizen_writes(channel, username="els")
    with django_assert_num_queries(1):
        live_cursor_current()


def test_a_citizen_message_polled_from_the_platform_is_new(
    logged_in, agent, channel, sandbox, django_assert_max_num_queries
):
    client = logged_in(agent)
    cursor = cursor_now(client)
    sandbox.add_mention(text="Lantaarnpaal kapot bij de school", username="els", name="Els")
    sandbox.add_mention(text="En ook bij de kerk", username="piet", name="Piet")
    assert channel_poll(channel_id=channel.id).new_messages == 2

    # The four above, plus the waiting counts, new audit events and new messages.
    with django_assert_max_num_queries(7):
        response = poll(client, cursor)

    assert response.status_code == 200
    data = response.json()
    conversations = set(Conversation.objects.values_list("id", flat=True))
    assert set(data["conversation_ids"]) == conversations
    assert data["new_messages"] == 2
    assert data["waiting_queue"] == 2
    assert data["waiting"] == 2
    assert data["cursor"] != cursor
    assert poll(client, data["cursor"]).status_code == 204


def test_a_message_in_an_existing_conversation_is_new_though_it_writes_no_audit_event(
    logged_in, agent, channel
):
    conversation = citizen_writes(channel, username="els")
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    client = logged_in(agent)
    cursor = cursor_now(client)

    citizen_writes(channel, username="els", thread=conversation.external_thread_id)
    data = poll(client, cursor).json()

    assert data["conversation_ids"] == [conversation.id]
    assert data["new_messages"] == 1
    assert data["waiting_mine"] == 1
    assert data["waiting_queue"] == 0


def test_messages_in_a_colleagues_conversation_change_the_list_but_are_not_counted(
    logged_in, agent, second_agent, channel
):
    conversation = citizen_writes(channel, username="els")
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    client = logged_in(agent)
    cursor = cursor_now(client)

    citizen_writes(channel, username="els", thread=conversation.external_thread_id)
    data = poll(client, cursor).json()

    assert data["conversation_ids"] == [conversation.id]
    assert data["new_messages"] == 0
    assert data["waiting"] == 0


def test_a_conversation_a_colleague_hands_over_is_announced_as_assigned(
    logged_in, agent, team_lead, channel
):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    cursor = cursor_now(client)

    conversation_transfer(
        conversation_id=conversation.id, actor=team_lead.user, to_user_id=agent.user.pk
    )
    data = poll(client, cursor).json()

    assert data["assigned_to_you"] == 1
    assert data["conversation_ids"] == [conversation.id]
    assert data["waiting_mine"] == 1
    assert data["waiting_queue"] == 0


def test_taking_a_conversation_yourself_is_a_change_but_no_news(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    cursor = cursor_now(client)

    conversation_take(conversation_id=conversation.id, actor=agent.user)
    data = poll(client, cursor).json()

    assert data["conversation_ids"] == [conversation.id]
    assert data["assigned_to_you"] == 0
    assert data["waiting_mine"] == 1


def test_a_colleague_resolving_a_conversation_changes_it_and_the_counts(
    logged_in, agent, second_agent, channel
):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    cursor = cursor_now(client)
    assert poll(client).json()["waiting_queue"] == 1

    conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    conversation_resolve(conversation_id=conversation.id, actor=second_agent.user)
    data = poll(client, cursor).json()

    assert data["conversation_ids"] == [conversation.id]
    assert data["waiting"] == 0
    assert data["assigned_to_you"] == 0


def test_a_note_mentioning_the_agent_is_a_new_mention(logged_in, agent, second_agent, channel):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    cursor = cursor_now(client)

    note_create(conversation_id=conversation.id, actor=second_agent.user, text="@anouk kijk jij?")
    note_create(conversation_id=conversation.id, actor=second_agent.user, text="zonder naam")
    data = poll(client, cursor).json()

    assert data["new_mentions"] == 1
    assert data["conversation_ids"] == [conversation.id]


def test_a_colleagues_presence_change_is_reported(logged_in, agent, second_agent):
    client = logged_in(agent)
    cursor = cursor_now(client)

    agent_set_presence(actor=second_agent.user, presence=AgentProfile.Presence.AWAY)
    data = poll(client, cursor).json()

    assert data["presence_changed"] is True
    assert data["conversation_ids"] == []
    assert data["new_messages"] == 0


def test_an_unrelated_change_gives_a_new_cursor_and_nothing_to_refresh(logged_in, agent, team_lead):
    client = logged_in(agent)
    cursor = cursor_now(client)

    team_create(actor=team_lead.user, name="Afval")
    data = poll(client, cursor).json()

    assert data["cursor"] != cursor
    assert data["conversation_ids"] == []
    assert data["presence_changed"] is False


def test_after_a_long_absence_everything_is_refreshed(agent, channel, monkeypatch):
    monkeypatch.setattr("inbox.selectors.live.CHANGES_READ_LIMIT", 2)
    since = live_cursor_current()
    for name in ("els", "piet", "joris"):
        citizen_writes(channel, username=name)

    changes = live_changes_between(user=agent.user, since=since, until=live_cursor_current())

    assert changes.conversation_ids is None
    assert changes.presence_changed is True
    assert changes.waiting_queue == 3


def test_rows_after_the_cursor_read_are_left_for_the_next_call(agent, channel):
    since = live_cursor_current()
    citizen_writes(channel, username="els")
    until = live_cursor_current()
    later = citizen_writes(channel, username="piet")

    changes = live_changes_between(user=agent.user, since=since, until=until)

    assert later.id not in (changes.conversation_ids or [])
    assert changes.new_messages == 1


@pytest.mark.parametrize("since", ["", "nonsense", "12", "1.x", "-1.2"])
def test_a_missing_or_broken_cursor_starts_afresh(logged_in, agent, since):
    response = poll(logged_in(agent), since)

    assert response.status_code == 200
    assert response.json()["cursor"] == str(live_cursor_current())


def test_a_cursor_from_a_newer_database_is_answered_with_the_current_one(logged_in, agent):
    response = poll(logged_in(agent), "999999999.999999999")

    assert response.status_code == 200
    assert response.json()["cursor"] == str(live_cursor_current())


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = poll(client, "0.0")

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_logged_in_outsiders_get_nothing(logged_in, outsider):
    response = poll(logged_in(outsider), "0.0")

    assert response.status_code == 403
    assert b"cursor" not in response.content


def test_only_get_is_allowed(logged_in, agent):
    assert logged_in(agent).post(URL).status_code == 405


# --- "Team on duty" ---------------------------------------------------------------------------


def test_team_on_duty_lists_the_agents_teams_with_their_presence_in_words(
    logged_in, agent, second_agent, team_lead, django_assert_max_num_queries
):
    outside = team_create(actor=team_lead.user, name="Parkeren")
    team = team_create(actor=team_lead.user, name="Afval")
    team_member_add(actor=team_lead.user, team_id=team.pk, user_id=agent.user.pk)
    team_member_add(actor=team_lead.user, team_id=team.pk, user_id=second_agent.user.pk)
    team_member_add(actor=team_lead.user, team_id=outside.pk, user_id=team_lead.user.pk)
    agent_set_presence(actor=second_agent.user, presence=AgentProfile.Presence.AWAY)
    client = logged_in(agent)

    with django_assert_max_num_queries(5):
        response = client.get(reverse("inbox:live_team_presence"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Anouk Jansen" in html
    assert "Bram Bakker" in html
    assert "Lotte" not in html
    assert html.index("Anouk Jansen") < html.index("Bram Bakker")  # available first
    assert 'data-presence="away"' in html
    assert "Afwezig" in html  # the presence in words, not colour alone


def test_team_on_duty_shows_everyone_to_an_agent_in_no_team(logged_in, agent, team_lead):
    response = logged_in(agent).get(reverse("inbox:live_team_presence"))

    html = response.content.decode()
    assert "Anouk Jansen" in html
    assert "Lotte de Vries" in html


def test_team_on_duty_is_for_staff_only(client, logged_in, outsider):
    assert client.get(reverse("inbox:live_team_presence")).status_code == 302
    assert logged_in(outsider).get(reverse("inbox:live_team_presence")).status_code == 403
