"""The Facebook Page connector through facebook-sdk's real code, over real HTTP, against the
sandbox Graph API: comments and Messenger in, comment replies and Messenger messages out."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from channels.base import PlatformAuthor, ReplyTarget
from channels.facebook import COMMENTS_CURSOR, MESSENGER_CURSOR, FacebookConnector
from channels.models import Channel, QuarantinedItem
from channels.registry import reply_rules
from channels.sandbox import SandboxServer
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create, channel_poll
from inbox.models import AuditEvent, Conversation, Message
from inbox.services import ServiceError, reply_create, reply_deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(db: None, sandbox: SandboxServer) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )


def poll(channel: Channel) -> int:
    outcome = channel_poll(channel_id=channel.id)
    assert outcome.succeeded, outcome.error
    return outcome.new_messages


def answer(conversation: Conversation, agent, text: str, *, private: bool = False) -> Message:
    return reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text=text,
        idempotency_key=uuid.uuid4(),
        private=private,
    )


def age_cursor(channel: Channel, minutes: int) -> None:
    """Pretend the last poll was `minutes` ago (the overlap is 5 minutes)."""
    channel.refresh_from_db()
    moment = int((timezone.now() - timedelta(minutes=minutes)).timestamp())
    channel.cursor = {COMMENTS_CURSOR: moment, MESSENGER_CURSOR: moment}
    channel.save(update_fields=["cursor"])


# --- reading ---------------------------------------------------------------------------------


def test_the_first_poll_imports_comments_replies_and_messenger_of_the_history_window(page, sandbox):
    now = timezone.now()
    post = sandbox.add_facebook_post("Nieuwe ophaaldagen GFT", created_at=now - timedelta(days=2))
    sandbox.add_facebook_comment(
        "Oude vraag", "Oud Bericht", post_id=post["id"], created_at=now - timedelta(days=9)
    )
    top = sandbox.add_facebook_comment(
        "Mijn container is niet geleegd 🗑️",
        "Piet de Vries",
        post_id=post["id"],
        attachment={
            "type": "photo",
            "media": {"image": {"src": "https://scontent.example/container.jpg"}},
            "url": "https://www.facebook.com/photo/1",
            "description": "Een volle grijze container",
        },
    )
    reply = sandbox.add_facebook_comment("Bij ons ook!", "Mira Jansen", parent_id=top["id"])
    dm = sandbox.add_facebook_message("Mijn adres is geheim, hoe scherm ik het af?", "Noor Bakker")

    assert poll(page) == 3

    comment = Message.objects.get(external_id=top["id"])
    assert comment.text == "Mijn container is niet geleegd 🗑️"
    assert not comment.is_private
    assert comment.in_reply_to_external_id == ""
    assert comment.author_contact.display_name == "Piet de Vries"
    assert comment.conversation.external_thread_id == f"fb-comment:{top['id']}"
    assert comment.attachments[0]["url"] == "https://scontent.example/container.jpg"
    assert comment.attachments[0]["description"] == "Een volle grijze container"
    nested = Message.objects.get(external_id=reply["id"])
    assert nested.in_reply_to_external_id == top["id"]
    assert nested.conversation.external_thread_id == f"fb-comment:{top['id']}"
    private = Message.objects.get(external_id=dm["id"])
    assert private.is_private
    assert private.conversation.is_private
    assert private.conversation.external_thread_id == f"fb-messenger:{dm['from']['id']}"
    page.refresh_from_db()
    assert page.health == Channel.Health.OK
    assert set(page.cursor) == {COMMENTS_CURSOR, MESSENGER_CURSOR}


def test_polling_again_stores_nothing_twice_and_picks_up_what_is_new(page, sandbox):
    sandbox.add_facebook_comment("Wanneer komt het grofvuil?", "Kees Smit")
    sandbox.add_facebook_message("Hallo, een vraag over de WOZ", "Daan Vos")
    assert poll(page) == 2
    assert poll(page) == 0  # The overlap reads both again; ingest skips them.
    age_cursor(page, minutes=30)
    sandbox.add_facebook_comment("En het oud papier?", "Kees Smit")
    sandbox.add_facebook_message("Mijn aanslagnummer is 1234", "Daan Vos")
    assert poll(page) == 2
    assert Message.objects.count() == 4
    assert Conversation.objects.filter(is_private=True).count() == 1


def test_it_pages_through_comments_and_conversations(page, sandbox):
    post = sandbox.add_facebook_post("Werkzaamheden Dorpsstraat")
    for number in range(130):
        sandbox.add_facebook_comment(
            f"Vraag nummer {number}", f"Burger {number}", post_id=post["id"]
        )
    for number in range(105):
        sandbox.add_facebook_message(f"Privévraag {number}", f"Inwoner {number}")

    assert poll(page) == 235


def test_a_new_comment_on_an_older_post_is_found(page, sandbox):
    old_post = sandbox.add_facebook_post(
        "Kerstmarkt", created_at=timezone.now() - timedelta(days=10)
    )
    sandbox.add_facebook_post("Nieuwer bericht")
    assert poll(page) == 0
    age_cursor(page, minutes=2)
    comment = sandbox.add_facebook_comment("Is de markt ook zondag?", "Els", post_id=old_post["id"])

    assert poll(page) == 1
    assert Message.objects.get().external_id == comment["id"]


def test_a_comment_without_from_is_quarantined_and_the_poll_goes_on(page, sandbox):
    sandbox.add_facebook_comment("Zonder afzender", "Geheim", hide_from=True)
    sandbox.add_facebook_raw_comment({"id": "1_2", "message": "geen tijd"})
    sandbox.add_facebook_comment("Wel leesbaar", "Anna")

    assert poll(page) == 1

    assert Message.objects.get().text == "Wel leesbaar"
    reasons = sorted(item.reason for item in QuarantinedItem.objects.all())
    assert len(reasons) == 2
    assert any("from" in reason for reason in reasons)
    raw = QuarantinedItem.objects.get(reason__contains="created_time").raw
    assert raw == {"id": "1_2", "message": "geen tijd"}


def test_an_unreadable_comment_read_again_by_overlapping_polls_is_kept_once(page, sandbox):
    comment = sandbox.add_facebook_comment("Zonder afzender", "Geheim", hide_from=True)
    poll(page)
    age_cursor(page, minutes=1)  # the next poll's 5-minute overlap reads it again

    poll(page)

    [kept] = QuarantinedItem.objects.all()
    assert kept.item_key == comment["id"]
    assert AuditEvent.objects.filter(action="channel.item_quarantined").count() == 1


# --- errors ----------------------------------------------------------------------------------


def test_a_rate_limit_pauses_the_channel_until_graph_lets_us_back_in(page, sandbox):
    sandbox.add_fault(path_prefix=f"/v25.0/{FACEBOOK_PAGE_ID}/posts", status=429)

    outcome = channel_poll(channel_id=page.id)

    assert not outcome.succeeded
    page.refresh_from_db()
    assert page.health == Channel.Health.FAILING
    assert "rate limit" in page.last_error
    assert page.paused_until is not None
    # The sandbox says to come back in a minute (estimated_time_to_regain_access).
    assert page.paused_until > timezone.now() + timedelta(seconds=50)
    assert page.cursor == {}


def test_a_server_error_marks_the_channel_failing_and_the_next_poll_recovers(page, sandbox):
    sandbox.add_facebook_comment("Vraag tijdens storing", "Bas")
    sandbox.add_fault(path_prefix="/v25.0/", status=503)

    outcome = channel_poll(channel_id=page.id)

    assert not outcome.succeeded
    page.refresh_from_db()
    assert page.health == Channel.Health.FAILING
    assert page.paused_until is None
    assert poll(page) == 1
    page.refresh_from_db()
    assert page.health == Channel.Health.OK


def test_a_revoked_token_needs_attention(page, sandbox):
    broken = channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="wrong-token",
        account_id="999",
        api_base_url=sandbox.url,
        credentials={"access_token": "expired", "app_secret": "x"},
    )

    outcome = channel_poll(channel_id=broken.id)

    assert not outcome.succeeded
    broken.refresh_from_db()
    assert broken.health == Channel.Health.NEEDS_ATTENTION
    assert "Invalid OAuth access token" in broken.last_error


def test_a_slow_graph_is_a_transient_failure(page, sandbox, settings):
    settings.WEBCARE_PLATFORM_TIMEOUT = 0.3
    sandbox.add_fault(path_prefix="/v25.0/", status=None, delay_seconds=1)

    outcome = channel_poll(channel_id=page.id)

    assert not outcome.succeeded
    page.refresh_from_db()
    assert page.health == Channel.Health.FAILING
    assert "did not answer" in page.last_error


# --- replies ---------------------------------------------------------------------------------


def test_a_comment_reply_goes_under_the_top_level_comment_and_reads_back_as_an_echo(
    page, sandbox, agent
):
    top = sandbox.add_facebook_comment("Wanneer is het milieupark open?", "Henk")
    nested = sandbox.add_facebook_comment("Ook op zaterdag?", "Henk", parent_id=top["id"])
    poll(page)
    conversation = Conversation.objects.get()

    reply = answer(conversation, agent, "Van dinsdag tot en met zaterdag, 9 tot 16 uur.")
    assert reply.in_reply_to_external_id == nested["id"]
    reply_deliver(message_id=reply.id)
    poll(page)

    [sent] = sandbox.facebook_comment_replies()
    assert sent["parent"]["id"] == top["id"]
    assert sent["message"] == "Van dinsdag tot en met zaterdag, 9 tot 16 uur."
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 2
    assert Message.objects.count() == 3
    conversation.refresh_from_db()
    assert conversation.waiting_since is None


def test_a_poll_between_a_lost_answer_and_the_retry_links_the_echo_to_the_reply(
    page, sandbox, agent
):
    top = sandbox.add_facebook_comment("Is de brug weer open?", "Wim")
    poll(page)
    reply = answer(Conversation.objects.get(), agent, "Ja, sinds vanochtend.")
    sandbox.add_fault(
        path_prefix=f"/v25.0/{top['id']}/comments",
        method="POST",
        status=503,
        after_processing=True,
    )
    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED

    poll(page)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sandbox.facebook_comment_replies()[0]["id"]
    assert AuditEvent.objects.get(action="reply.sent", message=reply).data["via"] == "echo"
    reply_deliver(message_id=reply.id)
    assert len(sandbox.facebook_comment_replies()) == 1


def test_a_comment_reply_whose_answer_was_lost_is_found_not_posted_twice(page, sandbox, agent):
    top = sandbox.add_facebook_comment("Waar haal ik een parkeervergunning?", "Fatima")
    poll(page)
    reply = answer(Conversation.objects.get(), agent, "Via Mijn Demodorp.")
    sandbox.add_fault(
        path_prefix=f"/v25.0/{top['id']}/comments",
        method="POST",
        status=500,
        after_processing=True,
    )

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    assert "server error" in reply.delivery_error
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [sent] = sandbox.facebook_comment_replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]
    assert AuditEvent.objects.get(action="reply.sent", message=reply).data["via"] == (
        "found_on_platform"
    )


def test_a_messenger_reply_within_24_hours_is_sent_and_reads_back_as_an_echo(page, sandbox, agent):
    citizen = sandbox.add_facebook_message("Mijn uitkering is niet overgemaakt", "Joke")
    poll(page)
    conversation = Conversation.objects.get()

    reply = answer(conversation, agent, "We bellen u vandaag terug.")
    assert reply.is_private
    reply_deliver(message_id=reply.id)
    poll(page)

    [sent] = sandbox.facebook_message_replies()
    assert sent["to"]["data"][0]["id"] == citizen["from"]["id"]
    assert sent["tag"] == ""
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]
    assert Message.objects.count() == 2


def test_a_messenger_reply_after_24_hours_is_refused_with_an_explanation(page, sandbox, agent):
    sandbox.add_facebook_message(
        "Vraag van eergisteren", "Ruud", created_at=timezone.now() - timedelta(hours=30)
    )
    poll(page)
    conversation = Conversation.objects.get()

    with pytest.raises(ServiceError, match="24 uur"):
        answer(conversation, agent, "Sorry voor de late reactie.")

    assert not sandbox.facebook_message_replies()


def test_a_page_with_the_human_agent_permission_answers_within_7_days_with_the_tag(
    page, sandbox, agent
):
    call_command("channels", "test", page.name)
    page.refresh_from_db()
    assert page.platform_settings["human_agent_tag"] is True
    assert reply_rules(page).extended_private_reply_window == timedelta(days=7)
    assert AuditEvent.objects.filter(action="channel.platform_settings_updated").exists()
    sandbox.add_facebook_message(
        "Vraag van eergisteren", "Ruud", created_at=timezone.now() - timedelta(hours=30)
    )
    poll(page)

    reply = answer(Conversation.objects.get(), agent, "Sorry voor de late reactie.")
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    [sent] = sandbox.facebook_message_replies()
    assert sent["tag"] == "HUMAN_AGENT"


def test_graph_refuses_a_message_outside_the_window_and_says_why(page, sandbox):
    citizen = sandbox.add_facebook_message(
        "Oud bericht", "Tom", created_at=timezone.now() - timedelta(days=2)
    )
    target = ReplyTarget(
        in_reply_to_external_id=citizen["id"],
        recipient=PlatformAuthor(external_id=citizen["from"]["id"]),
        thread_key=f"fb-messenger:{citizen['from']['id']}",
        private=True,
    )
    from channels.base import Rejected

    with pytest.raises(Rejected, match="outside of allowed window"):
        FacebookConnector(page).send_reply(text="Te laat", target=target)
    sandbox.set_facebook_human_agent(False)
    tagged = ReplyTarget(**{**target.__dict__, "message_tag": "HUMAN_AGENT"})
    with pytest.raises(Rejected, match="Human Agent"):
        FacebookConnector(page).send_reply(text="Te laat", target=tagged)


def test_a_public_comment_can_be_answered_privately(page, sandbox, agent):
    top = sandbox.add_facebook_comment("Mag ik mijn BSN hier zetten?", "Lisa")
    poll(page)

    reply = answer(Conversation.objects.get(), agent, "Nee, we sturen u een bericht.", private=True)
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    [sent] = sandbox.facebook_message_replies()
    assert sent["to"]["data"][0]["id"] == top["from"]["id"]


def test_find_reply_finds_a_posted_messenger_reply_and_nothing_else(page, sandbox):
    citizen = sandbox.add_facebook_message("Vraag", "Sem")
    target = ReplyTarget(
        in_reply_to_external_id=citizen["id"],
        recipient=PlatformAuthor(external_id=citizen["from"]["id"]),
        thread_key=f"fb-messenger:{citizen['from']['id']}",
        private=True,
    )
    connector = FacebookConnector(page)
    before = timezone.now()
    sent = connector.send_reply(text="Antwoord één", target=target)

    found = connector.find_reply(text="Antwoord één", target=target, not_before=before)
    missing = connector.find_reply(text="Iets anders", target=target, not_before=before)

    assert found is not None
    assert found.external_id == sent.external_id
    assert missing is None


def test_check_names_the_page(page, sandbox):
    assert "Gemeente Demodorp" in FacebookConnector(page).check()


def test_channels_add_facebook_from_the_command_line(db, sandbox, capsys):
    call_command(
        "channels",
        "add",
        "facebook",
        "demodorp-fb",
        "--account-id",
        FACEBOOK_PAGE_ID,
        "--api-base",
        sandbox.url,
        "--credential",
        f"access_token={FACEBOOK_CREDENTIALS['access_token']}",
        "--credential",
        f"app_secret={FACEBOOK_CREDENTIALS['app_secret']}",
    )
    channel = Channel.objects.get(name="demodorp-fb")
    assert channel.kind == Channel.Kind.FACEBOOK
    sandbox.add_facebook_comment("Hallo gemeente", "Ans")
    assert poll(channel) == 1


def test_the_composer_explains_a_closed_messenger_window_instead_of_offering_send(
    page, sandbox, agent, client
):
    sandbox.add_facebook_message(
        "Vraag van eergisteren", "Ruud", created_at=timezone.now() - timedelta(hours=30)
    )
    poll(page)
    conversation = Conversation.objects.get()
    client.force_login(agent.user)

    html = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()

    assert "Nu geen privéantwoord mogelijk." in html
    assert 'disabled aria-describedby="reply-window-closed"' in html


def test_a_messenger_reply_whose_answer_was_lost_is_found_not_sent_twice(page, sandbox, agent):
    sandbox.add_facebook_message("Wanneer is mijn rijbewijs klaar?", "Iris")
    poll(page)
    reply = answer(Conversation.objects.get(), agent, "Over twee weken.")
    sandbox.add_fault(
        path_prefix=f"/v25.0/{FACEBOOK_PAGE_ID}/messages",
        method="POST",
        status=502,
        after_processing=True,
    )

    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.QUEUED
    reply_deliver(message_id=reply.id)

    reply.refresh_from_db()
    [sent] = sandbox.facebook_message_replies()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.external_id == sent["id"]
    assert AuditEvent.objects.get(action="reply.sent", message=reply).data["via"] == (
        "found_on_platform"
    )


def test_an_answer_written_on_facebook_itself_joins_the_conversation_as_outbound(page, sandbox):
    top = sandbox.add_facebook_comment("Is het zwembad open?", "Karin")
    poll(page)
    age_cursor(page, minutes=1)
    ours = sandbox.add_facebook_page_comment("Ja, vanaf 7 uur.", top["id"])

    assert poll(page) == 0

    echo = Message.objects.get(external_id=ours["id"])
    assert echo.direction == Message.Direction.OUTBOUND
    assert echo.conversation.external_thread_id == f"fb-comment:{top['id']}"
    assert AuditEvent.objects.filter(action="reply.seen_outside_webcare").exists()


def test_a_comment_may_be_answered_privately_for_7_days_and_no_longer(page, sandbox, agent, client):
    three_days_ago = timezone.now() - timedelta(days=3)
    sandbox.add_facebook_comment(
        "Mijn vraag gaat over mijn uitkering", "Lies", created_at=three_days_ago
    )
    sandbox.add_facebook_comment("Vraag over de kermis", "Gert", created_at=three_days_ago)
    poll(page)
    lies = Conversation.objects.get(contact__display_name="Lies")
    gert = Conversation.objects.get(contact__display_name="Gert")

    # Beyond Messenger's 24 hours, within the 7 days of a private reply to a comment.
    reply = answer(lies, agent, "Stuur ons een privébericht, dan helpen we u.", private=True)
    reply_deliver(message_id=reply.id)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    [sent] = sandbox.facebook_message_replies()
    assert sent["message"] == reply.text

    with time_machine.travel(timezone.now() + timedelta(days=5)):
        client.force_login(agent.user)  # a session lasts one shift
        with pytest.raises(ServiceError, match="7 dagen"):
            answer(gert, agent, "Te laat voor privé", private=True)
        html = client.get(reverse("inbox:conversation", args=[gert.id])).content.decode()
        public = answer(gert, agent, "De kermis is in september.")
    assert 'disabled aria-describedby="private-window-closed"' in html
    assert public.delivery_status == Message.DeliveryStatus.QUEUED
