from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation
from inbox.services import conversation_set_priority, conversation_tag, conversation_take
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

LIST = "/api/v1/conversations/"


def test_the_list_shows_conversations_newest_first_with_their_contact(api_as, agent, channel):
    older = citizen_writes(channel, username="oud")
    newer = citizen_writes(channel, username="nieuw")

    response = api_as(agent).get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [newer.id, older.id]
    first = body["results"][0]
    assert first["contact"]["username"] == "nieuw"
    assert first["channel"]["name"] == "demodorp-x"
    assert first["status"] == "open"
    assert first["priority"] == "normal"
    assert first["assignee"] is None
    assert first["waiting_since"] is not None
    assert body["next"] is None


def test_the_list_pages_by_cursor(api_as, agent, channel):
    created = [citizen_writes(channel, username=f"burger{n}").id for n in range(5)]
    client = api_as(agent)

    first = client.get(LIST, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    seen = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert seen == sorted(created, reverse=True)
    assert third["next"] is None
    assert client.get(second["previous"]).json()["results"] == first["results"]


def test_a_broken_cursor_is_a_404_not_a_crash(api_as, agent):
    client = api_as(agent)
    for cursor in ["nonsense", "cD1hYmM=", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk="]:
        response = client.get(LIST, {"cursor": cursor})
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_the_list_filters(api_as, agent, second_agent, channel):
    mine = citizen_writes(channel, username="mijn")
    conversation_take(conversation_id=mine.id, actor=agent.user)
    colleagues = citizen_writes(channel, username="collega")
    conversation_take(conversation_id=colleagues.id, actor=second_agent.user)
    queued = citizen_writes(channel, username="wachtrij", text="Lantaarnpaal kapot")
    conversation_set_priority(conversation_id=queued.id, actor=agent.user, priority=4)
    conversation_tag(conversation_id=queued.id, actor=agent.user, name="Storing")
    client = api_as(agent)

    def ids(**params):  # type: ignore[no-untyped-def]
        response = client.get(LIST, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(assignee="me") == {mine.id}
    assert ids(assignee="none") == {queued.id}
    assert ids(assignee=str(second_agent.user.pk)) == {colleagues.id}
    assert ids(priority="urgent") == {queued.id}
    assert ids(tag="storing") == {queued.id}
    assert ids(q="lantaarnpaal") == {queued.id}
    assert ids(q="wachtrij") == {queued.id}
    assert ids(channel=channel.id, status="open", waiting="true") == {
        mine.id,
        colleagues.id,
        queued.id,
    }
    assert ids(waiting="false") == set()
    assert ids(status="resolved") == set()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "gone"},
        {"assignee": "someone"},
        {"priority": "4"},
        {"team": "0"},
        {"channel": "abc"},
        {"waiting": "maybe"},
        {"q": "x" * 201},
    ],
)
def test_invalid_filters_are_a_400_naming_the_parameter(api_as, agent, params):
    response = api_as(agent).get(LIST, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == set(params)
    assert body["detail"].startswith(next(iter(params)))


def test_the_list_costs_the_same_queries_for_many_conversations(
    api_as, agent, channel, django_assert_max_num_queries
):
    client = api_as(agent)
    for number in range(3):
        conversation = citizen_writes(channel, username=f"een{number}")
        conversation_tag(conversation_id=conversation.id, actor=agent.user, name="a")
    with django_assert_max_num_queries(6):
        assert client.get(LIST).status_code == 200
    for number in range(20):
        conversation = citizen_writes(channel, username=f"twee{number}")
        conversation_tag(conversation_id=conversation.id, actor=agent.user, name="b")
        conversation_take(conversation_id=conversation.id, actor=agent.user)
    with django_assert_max_num_queries(6):
        assert len(client.get(LIST).json()["results"]) == 23


def test_the_detail_has_the_thread_notes_tags_and_care_cycles(api_as, agent, channel):
    conversation = citizen_writes(channel, text="Container vergeten", username="burger")
    citizen_writes(
        channel,
        text="Nog steeds niet geleegd",
        username="burger",
        thread=conversation.external_thread_id,
        sent_at=timezone.now() + timedelta(seconds=1),
    )
    client = api_as(agent)
    client.post(f"{LIST}{conversation.id}/notes/", {"text": "Bel de wijkbeheerder"}, format="json")
    client.post(f"{LIST}{conversation.id}/tags/", {"name": "afval"}, format="json")

    response = client.get(f"{LIST}{conversation.id}/")

    assert response.status_code == 200
    body = response.json()
    assert [m["text"] for m in body["messages"]] == [
        "Container vergeten",
        "Nog steeds niet geleegd",
    ]
    message = body["messages"][0]
    assert message["direction"] == "inbound"
    assert message["delivery_status"] is None
    assert message["author"]["kind"] == "citizen"
    assert [n["text"] for n in body["notes"]] == ["Bel de wijkbeheerder"]
    assert body["notes"][0]["author"]["username"] == "anouk"
    assert [t["name"] for t in body["tags"]] == ["afval"]
    assert [c["number"] for c in body["care_cycles"]] == [1]
    assert body["snoozed_until"] is None


def test_the_detail_costs_a_fixed_number_of_queries(
    api_as, agent, channel, django_assert_max_num_queries
):
    conversation = citizen_writes(channel, username="burger")
    for number in range(5):
        citizen_writes(
            channel,
            text=f"Bericht {number}",
            username="burger",
            thread=conversation.external_thread_id,
        )
    client = api_as(agent)
    for number in range(5):
        client.post(f"{LIST}{conversation.id}/notes/", {"text": f"@bram {number}"}, format="json")

    with django_assert_max_num_queries(10):
        response = client.get(f"{LIST}{conversation.id}/")
    assert len(response.json()["messages"]) == 6


def test_an_unknown_conversation_is_a_json_404(api_as, agent):
    response = api_as(agent).get(f"{LIST}999999/")

    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "not_found"
    assert body["detail"]


def test_without_a_token_the_api_answers_401(anonymous, conversation):
    for url in [LIST, f"{LIST}{conversation.id}/"]:
        response = anonymous.get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["code"] == "not_authenticated"


def test_a_wrong_token_is_a_401(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = anonymous.get(LIST)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_users_outside_the_webcare_team_get_403(api_as, outsider, conversation):
    client = api_as(outsider)
    for url in [LIST, f"{LIST}{conversation.id}/"]:
        response = client.get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_the_session_of_the_logged_in_agent_works_too(logged_in, agent, conversation):
    client = logged_in(agent)

    response = client.get(LIST)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [conversation.id]


def test_a_conversation_without_an_assignee_has_none(api_as, agent, conversation):
    body = api_as(agent).get(f"{LIST}{conversation.id}/").json()
    assert body["assignee"] is None
    assert Conversation.objects.get().assignee is None
