"""Acting on a conversation in the inbox's pane keeps the agent in the inbox
(inbox/navigation.py); only the inbox's own path is ever a way back."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from inbox.models import Conversation
from inbox.services import conversation_take
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(channel) -> Conversation:  # type: ignore[no-untyped-def]
    return citizen_writes(channel, username="daan", thread="thread-daan", text="Container vol")


def _return_to_values(html: str) -> set[str]:
    return set(re.findall(r'name="return_to" value="([^"]*)"', html))


def test_the_panes_forms_come_back_to_the_same_inbox_view(logged_in, agent, conversation):
    client = logged_in(agent)
    conversation_take(actor=agent.user, conversation_id=conversation.id)

    page = client.get("/", {"queue": "all", "open": conversation.id}).content.decode()
    inbox_view = f"/?open={conversation.id}&amp;queue=all"
    assert _return_to_values(page) == {inbox_view}

    response = client.post(
        reverse("inbox:conversation_resolve", args=[conversation.id]),
        {"return_to": f"/?queue=all&open={conversation.id}"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/?open={conversation.id}&queue=all"
    assert Conversation.objects.get().status == Conversation.Status.RESOLVED


def test_the_pane_loaded_by_a_row_click_returns_to_the_inbox_with_that_conversation(
    logged_in, agent, conversation
):
    client = logged_in(agent)

    pane = client.get(
        reverse("inbox:inbox_pane", args=[conversation.id]),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/?queue=unassigned"},
    ).content.decode()

    assert _return_to_values(pane) == {f"/?open={conversation.id}&amp;queue=unassigned"}


def test_the_conversations_own_page_has_no_way_back_to_the_inbox(logged_in, agent, conversation):
    client = logged_in(agent)

    page = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()

    assert _return_to_values(page) == set()


@pytest.mark.parametrize(
    "return_to",
    ["https://evil.example/?open=1", "//evil.example/", "/admin/", "/search/?q=x", ""],
)
def test_anything_but_the_inbox_leads_to_the_conversations_page(
    logged_in, agent, conversation, return_to
):
    client = logged_in(agent)

    response = client.post(reverse("inbox:take", args=[conversation.id]), {"return_to": return_to})

    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation", args=[conversation.id])


def test_background_polls_do_not_count_as_the_agent_being_at_the_screen(logged_in, agent):
    from inbox.models import AgentProfile

    client = logged_in(agent)

    client.get(reverse("inbox:live_changes"), headers={"X-Webcare-Poll": "1"})
    assert AgentProfile.objects.get(pk=agent.pk).last_seen_at is None

    client.get(reverse("inbox:live_changes"))
    assert AgentProfile.objects.get(pk=agent.pk).last_seen_at is not None
