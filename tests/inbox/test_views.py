from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.base import Attachment, FetchResult, PlatformAuthor, PlatformMessage
from channels.services import channel_poll
from inbox.models import Conversation, Message
from inbox.services import (
    conversation_take,
    conversations_assign_waiting,
    messages_ingest,
    reply_deliver,
)
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def test_the_inbox_requires_a_login(client):
    response = client.get(reverse("inbox:inbox"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_people_outside_the_team_are_refused(logged_in, outsider):
    response = logged_in(outsider).get(reverse("inbox:inbox"))
    assert response.status_code == 403


def test_the_inbox_shows_my_conversations_and_the_queue_in_flat_queries(
    logged_in, agent, second_agent, channel, django_assert_max_num_queries
):
    for number in range(12):
        citizen_writes(channel, username=f"burger{number}", text=f"Vraag {number}")
    conversations_assign_waiting()
    citizen_writes(channel, username="wachtend", text="Nog niemand heeft mij")
    client = logged_in(agent)

    with django_assert_max_num_queries(9):
        response = client.get(reverse("inbox:inbox"))

    content = response.content.decode()
    assert response.status_code == 200
    # The inbox opens on my own queue; the unassigned one is a click away.
    assert content.count("data-conversation-row ") == 6
    assert '<span id="queue-count-mine">6</span>' in content
    assert '<span id="queue-count-unassigned">1</span>' in content
    unassigned = client.get(reverse("inbox:inbox"), {"queue": "unassigned"}).content.decode()
    assert "Nog niemand heeft mij" in unassigned


def test_long_lists_are_cut_and_say_how_many_there_are(logged_in, agent, channel, monkeypatch):
    monkeypatch.setattr("inbox.selectors.inbox.INBOX_PAGE_SIZE", 3)
    for number in range(5):
        citizen_writes(channel, username=f"burger{number}")

    content = logged_in(agent).get(reverse("inbox:inbox"), {"queue": "unassigned"}).content.decode()

    assert content.count("data-conversation-row ") == 3
    assert "(5)" in content
    assert 'id="inbox-next-page"' in content


def test_the_inbox_lists_are_served_as_a_partial_to_htmx(logged_in, agent, channel):
    citizen_writes(channel, username="hx", text="Partial")
    response = logged_in(agent).get(
        reverse("inbox:inbox_list"), {"queue": "unassigned"}, HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    assert "Partial" in content
    assert "<html" not in content


def test_the_inbox_is_in_dutch_even_for_an_english_browser_until_english_is_chosen(
    logged_in, agent
):
    client = logged_in(agent)
    english_browser = client.get(reverse("inbox:inbox"), HTTP_ACCEPT_LANGUAGE="en-GB")
    assert "Er zijn geen gesprekken aan je toegewezen." in english_browser.content.decode()

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    content = client.get(reverse("inbox:inbox")).content.decode()
    assert "No conversations assigned to you." in content


def test_the_conversation_page_shows_the_thread_and_history_in_flat_queries(
    logged_in, agent, channel, django_assert_max_num_queries
):
    for number in range(5):
        conversation = citizen_writes(
            channel, username="trouwe_burger", text=f"Bericht {number}", thread="thread-1"
        )
    citizen_writes(channel, username="trouwe_burger", text="Oud gesprek", thread="thread-0")
    client = logged_in(agent)

    with django_assert_max_num_queries(16):
        response = client.get(reverse("inbox:conversation", args=[conversation.id]))

    content = response.content.decode()
    assert all(f"Bericht {number}" in content for number in range(5))
    assert "Earlier conversations" in content or "Eerdere gesprekken" in content
    assert 'data-max-length="280"' in content
    assert 'data-count-rule="twitter"' in content


def test_sending_a_reply_queues_it_once_even_when_submitted_twice(logged_in, agent, channel):
    conversation = citizen_writes(channel)
    client = logged_in(agent)
    url = reverse("inbox:reply_send", args=[conversation.id])
    form = {"text": "We komen het vandaag legen.", "idempotency_key": str(uuid.uuid4())}

    first = client.post(url, form)
    second = client.post(url, form)

    assert first.status_code == second.status_code == 302
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    assert message.author_user == agent.user


def test_an_empty_reply_is_refused_with_a_message(logged_in, agent, channel):
    conversation = citizen_writes(channel)
    response = logged_in(agent).post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": "", "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_the_delivery_status_partial_polls_until_the_reply_is_done(logged_in, agent, channel):
    conversation = citizen_writes(channel)
    client = logged_in(agent)
    client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": "Antwoord", "idempotency_key": str(uuid.uuid4())},
    )
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    url = reverse("inbox:reply_status", args=[message.id])

    assert 'hx-trigger="every 2s"' in client.get(url).content.decode()
    Message.objects.filter(id=message.id).update(
        delivery_status=Message.DeliveryStatus.FAILED, delivery_error="X refused: test"
    )
    content = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in content
    assert "X refused: test" in content
    # The conversation badge is swapped too, so the page needs no reload.
    assert 'id="conversation-status"' in content
    assert 'hx-swap-oob="true"' in content


def test_taking_a_conversation_a_colleague_has_shows_why_not(
    logged_in, agent, second_agent, channel
):
    conversation = citizen_writes(channel)
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    client = logged_in(agent)

    response = client.post(reverse("inbox:take", args=[conversation.id]), follow=True)

    assert "Een collega heeft dit gesprek al." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user


def test_going_offline_is_recorded(logged_in, agent):
    logged_in(agent).post(
        reverse("inbox:presence"), {"presence": "offline", "next": "https://evil.example/"}
    )
    agent.refresh_from_db()
    assert agent.presence == "offline"


def test_the_dashboard_is_for_team_leads(logged_in, agent):
    assert logged_in(agent).get(reverse("inbox:dashboard")).status_code == 403


# /healthz and /readyz are tested in tests/test_health.py.


def test_a_private_conversation_is_answered_privately(logged_in, agent, channel):
    conversation = citizen_writes(channel, text="Mijn BSN is ...", private=True)
    client = logged_in(agent)

    page = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()
    client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": "Dank, we zoeken het uit.", "idempotency_key": str(uuid.uuid4())},
    )

    assert "privébericht" in page
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).is_private


def test_attachments_show_as_thumbnails_and_unsafe_links_never_reach_the_page(
    logged_in, agent, channel
):
    message = PlatformMessage(
        external_id="4242",
        thread_key="4242",
        author=PlatformAuthor(external_id="u9", username="foto"),
        text="Kijk: <script>alert(1)</script> https://example.org/kapot",
        sent_at=timezone.now(),
        attachments=(
            Attachment(
                url="https://media.example/lamp.jpg",
                preview_url="https://media.example/lamp_small.jpg",
                description="Een kapotte lantaarnpaal",
            ),
            Attachment(url="javascript:alert(1)", description="gevaarlijk"),
        ),
    )
    messages_ingest(channel_id=channel.id, fetched=FetchResult([message], cursor={}))
    conversation = Conversation.objects.get(external_thread_id="4242")

    content = logged_in(agent).get(reverse("inbox:conversation", args=[conversation.id]))
    html = content.content.decode()

    assert 'src="https://media.example/lamp_small.jpg"' in html
    assert 'alt="Een kapotte lantaarnpaal"' in html
    assert "javascript:" not in html
    assert "<script>alert(1)</script>" not in html
    assert '<a href="https://example.org/kapot"' in html


@pytest.mark.parametrize("choice", ["public", "private"])
def test_the_agents_public_or_private_choice_reaches_the_platform_in_that_form(
    logged_in, agent, channel, sandbox, choice
):
    sandbox.add_mention(text="Mijn rijbewijs verloopt, wat moet ik doen?", username="joost")
    assert channel_poll(channel_id=channel.id).new_messages == 1
    conversation = Conversation.objects.get()
    client = logged_in(agent)

    page = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()
    client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {
            "text": "Stuur ons een privébericht met uw geboortedatum.",
            "idempotency_key": str(uuid.uuid4()),
            "private": "on" if choice == "private" else "",
        },
    )
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    reply_deliver(message_id=reply.id)

    assert "Openbaar antwoord" in page
    assert "Privébericht" in page
    assert "Invoegen: verder via privébericht" in page
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.is_private is (choice == "private")
    direct_texts = [event["text"] for event in sandbox.direct_replies()]
    tweet_texts = [tweet["text"] for tweet in sandbox.replies()]
    if choice == "private":
        assert direct_texts == [reply.text]
        assert tweet_texts == []
    else:
        assert direct_texts == []
        assert [text.endswith(reply.text) for text in tweet_texts] == [True]


def test_a_private_reply_over_the_public_limit_but_within_the_dm_limit_is_accepted(
    logged_in, agent, channel
):
    conversation = citizen_writes(channel)
    long_text = "Wij helpen u graag verder. " * 20  # 540 characters: too long for a tweet
    client = logged_in(agent)

    public = client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": long_text, "idempotency_key": str(uuid.uuid4()), "private": ""},
    )
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    assert "280" in public.content.decode()

    client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": long_text, "idempotency_key": str(uuid.uuid4()), "private": "on"},
    )
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).is_private


def test_no_template_comment_or_empty_handle_leaks_onto_the_pages(logged_in, agent, channel):
    # Django comments with {# #} end at the line's end; a multi-line one shows up as text.
    conversation = citizen_writes(channel, username="", text="Een vraag zonder handle")
    client = logged_in(agent)

    pages = [
        client.get(reverse("inbox:inbox")).content.decode(),
        client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode(),
    ]

    for content in pages:
        assert "{#" not in content
        assert "#}" not in content
        assert '<span class="handle">@</span>' not in content


def test_a_private_conversation_gets_the_private_limit_in_the_composer(logged_in, agent, channel):
    public = citizen_writes(channel, username="openbaar")
    private = citizen_writes(channel, username="prive", private=True)
    client = logged_in(agent)

    public_page = client.get(reverse("inbox:conversation", args=[public.id])).content.decode()
    private_page = client.get(reverse("inbox:conversation", args=[private.id])).content.decode()

    assert 'data-max-length="280"' in public_page
    assert 'data-private-max-length="10000"' in public_page
    assert 'data-max-length="10000"' in private_page
