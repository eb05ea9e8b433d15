"""The conversation pane (templates/inbox/_conversation_pane.html): the thread, its partials
for live updates, the citizen panel with the citizen's conversations on every channel, the
composer's personal data check, and a query count that does not grow with the thread or
the citizen's history."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels.models import Channel
from inbox import services
from inbox.models import AuditEvent, Conversation, Message
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def _reply(conversation: Conversation, actor, text: str = "We kijken ernaar.") -> Message:  # type: ignore[no-untyped-def]
    return services.reply_create(
        conversation_id=conversation.id,
        actor=actor,
        text=text,
        idempotency_key=uuid.uuid4(),
    )


def _page(client, conversation: Conversation) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("inbox:conversation", args=[conversation.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_thread_shows_citizen_messages_replies_and_notes_each_labelled(
    logged_in, agent, channel
):
    conversation = citizen_writes(channel, username="els", text="De lantaarnpaal is kapot")
    reply = _reply(conversation, agent.user, "Dank je, we sturen een monteur.")
    services.note_create(
        conversation_id=conversation.id, actor=agent.user, text="Monteur gebeld <b>"
    )
    content = _page(logged_in(agent), conversation)

    inbound = conversation.messages.get(direction=Message.Direction.INBOUND)
    assert re.search(
        rf'<li class="message message-inbound" [^>]*data-message-id="{inbound.id}"', content
    )
    assert re.search(
        rf'<li class="message message-outbound" [^>]*data-message-id="{reply.id}"', content
    )
    assert '<li class="note"' in content
    assert "Monteur gebeld &lt;b&gt;" in content
    # Told apart in words, not by colour alone (the page is in Dutch).
    assert content.count('<span class="message-kind">') == 2
    assert "Inwoner" in content
    assert "Interne notitie" in content
    # In time order: message, reply, note.
    assert (
        content.index("De lantaarnpaal")
        < content.index("Dank je, we")
        < content.index("Monteur gebeld")
    )


def test_the_shortcut_targets_and_refreshable_parts_are_marked(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els")
    content = _page(logged_in(agent), conversation)

    thread_url = reverse("inbox:conversation_thread", args=[conversation.id])
    state_url = reverse("inbox:conversation_state", args=[conversation.id])
    assert re.search(
        rf'<ol id="thread" [^>]*hx-get="{thread_url}" hx-trigger="webcare:refresh"', content
    )
    assert re.search(
        rf'id="conversation-state" [^>]*hx-get="{state_url}" hx-trigger="webcare:refresh"', content
    )
    assert re.search(r'<textarea [^>]*data-shortcut="reply"', content)
    assert re.search(r'<button [^>]*data-shortcut="resolve"', content)
    # Unassigned: "a" takes it.
    assert re.search(r'<button type="submit" data-shortcut="assign">', content)

    services.conversation_take(conversation_id=conversation.id, actor=agent.user)
    content = _page(logged_in(agent), conversation)
    # Assigned: "a" goes to the transfer's first field.
    assert re.search(r'<select name="to" id="transfer-to" [^>]*data-shortcut="assign"', content)
    assert content.count('data-shortcut="assign"') == 1


def test_the_thread_partial_is_only_the_thread_and_never_the_composer(logged_in, agent, channel):
    conversation = citizen_writes(channel, username="els", text="Eerste bericht")
    client = logged_in(agent)
    citizen_writes(
        channel, username="els", text="Tweede bericht", thread=conversation.external_thread_id
    )

    response = client.get(reverse("inbox:conversation_thread", args=[conversation.id]))

    content = response.content.decode().strip()
    assert content.startswith('<ol id="thread"')
    assert content.endswith("</ol>")
    assert "Eerste bericht" in content and "Tweede bericht" in content
    assert "<textarea" not in content and "<form" not in content


def test_the_state_partial_shows_status_assignee_priority_and_team(
    logged_in, agent, second_agent, channel
):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    services.conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    services.conversation_set_priority(
        conversation_id=conversation.id, actor=second_agent.user, priority=4
    )

    response = client.get(reverse("inbox:conversation_state", args=[conversation.id]))

    content = response.content.decode().strip()
    assert content.startswith('<div id="conversation-state"')
    assert "Bram Bakker" in content
    assert "Urgent" in content
    assert 'id="conversation-status"' in content
    assert "<form" not in content


def _conversations_of(channel: Channel, username: str, count: int) -> list[Conversation]:
    return [
        citizen_writes(
            channel, username=username, text=f"Vraag {number}", thread=f"{username}-{number}"
        )
        for number in range(count)
    ]


def _queries_for_page(client, conversation: Conversation) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("inbox:conversation", args=[conversation.id]))
    assert response.status_code == 200
    return len(queries)


def test_the_page_has_the_same_query_count_for_a_short_and_a_long_thread_and_history(
    logged_in, agent, channel, mastodon_channel
):
    """3 vs 30 messages (with replies and notes), 1 vs 10 earlier conversations on two
    channels: the same number of queries."""

    def citizen_with(username: str, messages: int, earlier: int) -> Conversation:
        conversation = citizen_writes(channel, username=username, text="Begin")
        for number in range(messages - 1):
            if number % 3 == 0:
                _reply(conversation, agent.user, f"Antwoord {number}")
            elif number % 3 == 1:
                services.note_create(
                    conversation_id=conversation.id, actor=agent.user, text=f"Notitie {number}"
                )
            else:
                citizen_writes(
                    channel,
                    username=username,
                    text=f"Nog {number}",
                    thread=conversation.external_thread_id,
                )
        # Half on X, the rest (at least one) on Mastodon by the same, linked, citizen.
        _conversations_of(channel, username, earlier // 2)
        other = _conversations_of(
            mastodon_channel, f"{username}@social.example", earlier - earlier // 2
        )
        services.contacts_link(
            actor=agent.user,
            contact_id=conversation.contact_id,
            other_contact_id=other[0].contact_id,
        )
        return conversation

    short = citizen_with("kort", messages=3, earlier=1)
    long = citizen_with("lang", messages=30, earlier=10)
    client = logged_in(agent)
    _page(client, short)  # warm the session and the caches of both

    short_count = _queries_for_page(client, short)
    long_count = _queries_for_page(client, long)

    assert Message.objects.filter(conversation=long).count() >= 20
    content = _page(client, long)
    assert content.count('class="history-item"') == 10
    assert long_count == short_count
    assert short_count <= 25


def test_the_citizen_panel_lists_conversations_of_linked_accounts_on_other_channels(
    logged_in, agent, channel, mastodon_channel
):
    on_x = citizen_writes(channel, username="els", text="Container niet geleegd")
    on_mastodon = citizen_writes(
        mastodon_channel, username="els@social.example", text="Hoi, nog een vraag over de container"
    )
    client = logged_in(agent)
    assert "nog een vraag over de container" not in _page(client, on_x)

    response = client.post(
        reverse("inbox:contact_link", args=[on_x.id]), {"other_contact_id": on_mastodon.contact_id}
    )

    assert response.status_code == 302
    content = _page(client, on_x)
    assert "Hoi, nog een vraag over de container" in content
    assert reverse("inbox:conversation", args=[on_mastodon.id]) in content
    assert "Mastodon" in content
    # And the other way round.
    assert "Container niet geleegd" in _page(client, on_mastodon)


def test_contact_search_finds_other_channels_only_and_offers_a_link(
    logged_in, agent, channel, mastodon_channel
):
    on_x = citizen_writes(channel, username="els_x", text="Vraag")
    on_mastodon = citizen_writes(mastodon_channel, username="els@social.example", text="Vraag")
    citizen_writes(channel, username="elsbeth", text="Vraag")
    client = logged_in(agent)

    response = client.get(
        reverse("inbox:contact_search", args=[on_x.id]), {"q": "@els"}, HTTP_HX_REQUEST="true"
    )

    content = response.content.decode()
    assert f'data-link-contact="{on_mastodon.contact_id}"' in content
    assert "elsbeth" not in content  # same channel as the conversation
    # Without JavaScript: the whole page with the results in the panel.
    page = client.get(
        reverse("inbox:contact_search", args=[on_x.id]), {"q": "els"}
    ).content.decode()
    assert f'data-link-contact="{on_mastodon.contact_id}"' in page
    assert "<textarea" in page


def test_unlinking_from_the_panel_takes_the_other_channel_out_again(
    logged_in, agent, channel, mastodon_channel
):
    on_x = citizen_writes(channel, username="els", text="Container niet geleegd")
    on_mastodon = citizen_writes(
        mastodon_channel, username="els@social.example", text="Andere vraag"
    )
    services.contacts_link(
        actor=agent.user, contact_id=on_x.contact_id, other_contact_id=on_mastodon.contact_id
    )
    client = logged_in(agent)

    client.post(
        reverse("inbox:contact_unlink", args=[on_x.id]),
        {"other_contact_id": on_mastodon.contact_id},
    )

    assert "Andere vraag" not in _page(client, on_x)
    assert AuditEvent.objects.filter(action="contact.unlinked").count() == 1


def test_the_profile_link_goes_to_the_platform(logged_in, agent, channel, mastodon_channel):
    on_x = citizen_writes(channel, username="els", text="Vraag")
    on_mastodon = citizen_writes(mastodon_channel, username="els@social.example", text="Vraag")
    client = logged_in(agent)

    assert 'href="https://x.com/els"' in _page(client, on_x)
    assert 'href="https://social.example/@els"' in _page(client, on_mastodon)


def test_a_public_reply_with_a_phone_number_comes_back_with_the_finding_and_a_checkbox(
    logged_in, agent, channel, sandbox
):
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    url = reverse("inbox:reply_send", args=[conversation.id])
    form = {"text": "@els Bel ons terug op 06-12345678", "idempotency_key": str(uuid.uuid4())}

    refused = client.post(url, form)

    assert refused.status_code == 422
    content = refused.content.decode()
    assert "06-12…" in content
    assert 'id="personal-data-warning"' in content
    assert 'name="confirmed_personal_data"' in content
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    # The text is kept, so the agent only ticks the box.
    assert "Bel ons terug op 06-12345678</textarea>" in content

    # Ticking the box is not enough: the reason is asked for.
    without_reason = client.post(url, {**form, "confirmed_personal_data": "on"})
    assert without_reason.status_code == 422
    assert 'id="personal-data-reason-error"' in without_reason.content.decode()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()

    accepted = client.post(
        url,
        {**form, "confirmed_personal_data": "on", "personal_data_reason": "ons eigen nummer"},
    )

    assert accepted.status_code == 302
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    event = AuditEvent.objects.get(action="reply.queued", message=reply)
    assert event.data["personal_data_confirmed"] == ["phone"]
    assert event.data["personal_data_reason"] == "ons eigen nummer"


def test_the_preview_shows_the_reply_with_the_signature(logged_in, agent, channel):
    channel.append_signature = True
    channel.save(update_fields=["append_signature"])
    conversation = citizen_writes(channel, username="els")
    client = logged_in(agent)
    assert 'id="reply-preview"' in _page(client, conversation)

    # A refused reply comes back with its text, previewed as the citizen would get it.
    response = client.post(
        reverse("inbox:reply_send", args=[conversation.id]),
        {"text": "Mail ons op els@example.nl", "idempotency_key": str(uuid.uuid4())},
    )

    assert response.status_code == 422
    assert re.search(
        r'<p id="reply-preview" [^>]*>Mail ons op els@example.nl \^AJ</p>',
        response.content.decode(),
    )


def test_the_api_refuses_personal_data_in_public_with_409_until_confirmed(agent, channel):
    from rest_framework.test import APIClient

    from inbox.services import api_token_issue

    conversation = citizen_writes(channel, username="els")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user_id=agent.user.pk).key}")
    url = f"/api/v1/conversations/{conversation.id}/replies/"
    body = {"text": "Je BSN 123456782 staat verkeerd"}

    refused = client.post(url, body, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "personal_data"
    assert "12345…" in refused.json()["detail"]
    without_reason = client.post(url, {**body, "confirmed_personal_data": True}, format="json")
    assert without_reason.status_code == 409
    assert without_reason.json()["code"] == "personal_data"
    accepted = client.post(
        url,
        {**body, "confirmed_personal_data": True, "personal_data_reason": "zelf gepubliceerd"},
        format="json",
    )
    assert accepted.status_code == 201
    event = AuditEvent.objects.get(action="reply.queued")
    assert event.data["personal_data_confirmed"] == ["bsn"]
    assert event.data["personal_data_reason"] == "zelf gepubliceerd"


def test_a_private_reply_is_not_checked_for_personal_data(agent, channel):
    conversation = citizen_writes(channel, username="els")

    reply = services.reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text="Je kunt ons bellen op 06-12345678",
        idempotency_key=uuid.uuid4(),
        private=True,
    )

    assert reply.is_private
    event = AuditEvent.objects.get(action="reply.queued", message=reply)
    assert "personal_data_confirmed" not in event.data
