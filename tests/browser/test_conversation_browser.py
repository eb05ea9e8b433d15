"""The conversation page in a real browser: the thread with its three kinds of items, the
composer (preview with signature, Ctrl+Enter, the personal data warning and the server's
refusal), canned responses by keyboard, linking a citizen's accounts, live refresh of the
thread without touching the composer, the layout at three widths, and axe."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from channels.base import SentReply
from channels.models import Channel
from channels.services import channel_create
from inbox import services
from inbox.models import Conversation, Message
from tests.browser.conftest import (
    TABLET,
    assert_no_axe_violations,
    assert_no_page_errors,
    new_page,
    save_screenshot,
)
from tests.inbox.helpers import citizen_writes
from tests.inbox.test_personal_data import EXAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page: Any, live_server: Any, conversation: Conversation) -> None:
    page.goto(f"{live_server.url}/conversations/{conversation.id}/")


def _reply(conversation: Conversation, actor: Any, text: str) -> Message:
    return services.reply_create(
        conversation_id=conversation.id, actor=actor, text=text, idempotency_key=uuid.uuid4()
    )


def _full_conversation(channel: Channel, agent: Any) -> Conversation:
    """A thread with a citizen's messages, a sent and a failed reply, and notes."""
    conversation = citizen_writes(
        channel, username="els", text="De lantaarnpaal voor ons huis is al een week kapot 💡"
    )
    sent = _reply(conversation, agent.user, "Dank je, Els! We sturen vandaag een monteur.")
    services.reply_mark_sent(
        message_id=sent.id, sent=SentReply(external_id="990001", raw={}), via="send"
    )
    services.note_create(
        conversation_id=conversation.id, actor=agent.user, text="Monteur ingepland voor 14:00."
    )
    citizen_writes(
        channel,
        username="els",
        text="Hij doet het weer, dank jullie wel! https://example.org/foto",
        thread=conversation.external_thread_id,
    )
    failed = _reply(conversation, agent.user, "Fijn om te horen, fijne avond!")
    services.reply_mark_failed(message_id=failed.id, error="X answered 503: over capacity")
    services.note_create(
        conversation_id=conversation.id, actor=agent.user, text="Afgehandeld, @bram ter info."
    )
    citizen_writes(channel, username="els", text="Eerdere vraag over afval", thread="els-earlier")
    return conversation


def test_the_conversation_page_shows_the_thread_and_panel_and_passes_axe(
    page, log_in, live_server, channel, agent, second_agent
):
    from playwright.sync_api import expect

    conversation = _full_conversation(channel, agent)
    log_in(page, "anouk")
    _open(page, live_server, conversation)

    thread = page.locator("ol#thread")
    expect(thread.locator("li.message")).to_have_count(4)
    expect(thread.locator("li.message-inbound")).to_have_count(2)
    expect(thread.locator("li.message-outbound")).to_have_count(2)
    expect(thread.locator("li.note")).to_have_count(2)
    # Inbound left, outbound right: alignment as well as words and colour.
    inbound_box = thread.locator("li.message-inbound").first.bounding_box()
    outbound_box = thread.locator("li.message-outbound").first.bounding_box()
    assert inbound_box["x"] < outbound_box["x"]
    # The failed reply says why and offers to try again.
    failed = thread.locator("li.message-outbound").last
    expect(failed.locator(".delivery-error")).to_contain_text("503")
    expect(failed.locator(".delivery-retry button")).to_be_visible()
    # The citizen panel is right of the thread, with the earlier conversation.
    panel = page.locator("aside.citizen-panel")
    expect(panel.locator(".history-item")).to_have_count(1)
    expect(panel.locator(".history-first-line")).to_have_text("Eerdere vraag over afval")
    expect(panel.locator("a.citizen-profile-link")).to_have_attribute("href", "https://x.com/els")
    assert panel.bounding_box()["x"] > thread.bounding_box()["x"] + thread.bounding_box()["width"]

    assert_no_axe_violations(page)
    save_screenshot(page, "conversation-page")

    # Retry works from the page.
    failed.locator(".delivery-retry button").click()
    expect(
        page.locator("ol#thread li.message-outbound").last.get_by_test_id("delivery-status")
    ).not_to_have_text("Mislukt")
    assert Message.objects.get(text__startswith="Fijn om te horen").delivery_status == "queued"
    assert_no_page_errors(page)


def test_on_a_tablet_and_in_a_narrow_pane_the_panel_goes_below_the_thread(
    browser, log_in, live_server, channel, agent
):
    conversation = _full_conversation(channel, agent)
    page = new_page(browser, viewport=TABLET)
    log_in(page, "anouk")
    _open(page, live_server, conversation)

    thread = page.locator("ol#thread").bounding_box()
    panel = page.locator("aside.citizen-panel").bounding_box()
    assert panel["y"] > thread["y"] + thread["height"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_no_axe_violations(page)

    # The inbox's third pane is about 640 px wide: the container query stacks it too.
    page.set_viewport_size({"width": 1280, "height": 720})
    page.evaluate("document.querySelector('.conversation').style.width = '640px'")
    thread = page.locator("ol#thread").bounding_box()
    panel = page.locator("aside.citizen-panel").bounding_box()
    assert panel["y"] > thread["y"] + thread["height"]
    assert panel["width"] <= 642
    assert_no_page_errors(page)
    page.context.close()


def test_ctrl_enter_sends_and_the_preview_shows_the_signature(
    page, log_in, live_server, channel, agent
):
    from playwright.sync_api import expect

    channel.append_signature = True
    channel.save(update_fields=["append_signature"])
    conversation = citizen_writes(channel, username="els", text="Wanneer komt de monteur?")
    log_in(page, "anouk")
    _open(page, live_server, conversation)

    composer = page.locator("textarea[data-shortcut=reply]")
    composer.fill("Vandaag nog, tussen 13:00 en 17:00.")
    expect(page.locator("#reply-preview")).to_have_text("Vandaag nog, tussen 13:00 en 17:00. ^AJ")
    expect(page.locator("#personal-data-warning")).to_be_hidden()
    composer.press("Control+Enter")

    expect(page.locator("ol#thread li.message-outbound")).to_have_count(1)
    expect(page.locator("ol#thread li.message-outbound .message-text")).to_have_text(
        "Vandaag nog, tussen 13:00 en 17:00. ^AJ"
    )
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert reply.text == "Vandaag nog, tussen 13:00 en 17:00. ^AJ"
    assert_no_page_errors(page)


def test_a_phone_number_in_a_public_reply_is_warned_about_refused_and_sent_when_confirmed(
    page, log_in, live_server, channel, agent
):
    from playwright.sync_api import expect

    conversation = citizen_writes(channel, username="els", text="Kunnen jullie mij bellen?")
    log_in(page, "anouk")
    _open(page, live_server, conversation)

    composer = page.locator("textarea[data-shortcut=reply]")
    warning = page.locator("#personal-data-warning")
    composer.press_sequentially("Bel ons op 06-12345678")
    expect(warning).to_be_visible()
    expect(warning.locator("li[data-kind=phone]")).to_contain_text("06-12…")
    save_screenshot(page, "conversation-composer-warning")
    assert_no_axe_violations(page)

    # Sent without ticking the box: the server refuses and says what it found.
    page.locator("form.reply-form button[type=submit]").click()
    expect(page.locator("#personal-data-error")).to_contain_text("06-12…")
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    expect(composer).to_have_value("Bel ons op 06-12345678")
    # The refusal is a 422 page, which the browser logs as a failed load: expected here.
    page.webcare_errors[:] = [error for error in page.webcare_errors if "422" not in error]

    page.locator("#id_confirmed_personal_data").check()
    # The reason appears with the checkbox and is required.
    page.locator("#id_personal_data_reason").fill("ons eigen nummer")
    page.locator("form.reply-form button[type=submit]").click()

    expect(page.locator("ol#thread li.message-outbound")).to_have_count(1)
    assert (
        Message.objects.get(direction=Message.Direction.OUTBOUND).text == "Bel ons op 06-12345678"
    )
    # Removing the number makes the warning go away again.
    composer.fill("Bel ons op het algemene nummer.")
    expect(warning).to_be_hidden()
    assert_no_page_errors(page)


def test_the_javascript_finds_the_same_personal_data_as_python(
    page, log_in, live_server, channel, agent
):
    from inbox.personal_data import find_personal_data

    conversation = citizen_writes(channel, username="els")
    log_in(page, "anouk")
    _open(page, live_server, conversation)
    texts = [text for text, _kinds in EXAMPLES]

    in_browser = page.evaluate(
        "(texts) => texts.map((t) => window.webcarePersonalData.find(t)"
        ".map((f) => [f.kind, f.start, f.end, f.shown]))",
        texts,
    )

    in_python = [
        [[f.kind, f.start, f.end, f.shown] for f in find_personal_data(text)] for text in texts
    ]
    assert in_browser == in_python
    assert_no_page_errors(page)


def test_a_canned_response_is_picked_with_the_keyboard_and_its_variables_filled(
    page, log_in, live_server, channel, agent
):
    from playwright.sync_api import expect

    services.canned_response_create(
        actor=agent.user,
        shortcut="monteur",
        title="Monteur komt",
        text="Hoi {{ naam }}, de monteur komt morgen. Groet, {{ agent_voornaam }}",
        shared=False,
    )
    conversation = citizen_writes(channel, username="els", text="Wanneer?")
    log_in(page, "anouk")
    _open(page, live_server, conversation)

    composer = page.locator("textarea[data-shortcut=reply]")
    composer.press_sequentially("/mont")
    expect(page.locator("#canned-results button[data-insert-text]")).to_have_count(1)
    composer.press("ArrowDown")
    expect(page.locator("#canned-results button[data-insert-text]")).to_be_focused()
    page.keyboard.press("Enter")

    expect(composer).to_have_value("Hoi Els, de monteur komt morgen. Groet, Anouk")
    expect(composer).to_be_focused()
    assert_no_page_errors(page)


def test_linking_an_account_on_another_channel_shows_its_conversations_in_the_panel(
    page, log_in, live_server, channel, agent
):
    from playwright.sync_api import expect

    mastodon = channel_create(
        kind=Channel.Kind.MASTODON,
        name="demodorp-mastodon",
        account_id="109000",
        api_base_url="https://social.demodorp.nl",
        credentials={"access_token": "not-used-here"},
    )
    on_x = citizen_writes(channel, username="els", text="Container niet geleegd")
    on_mastodon = citizen_writes(
        mastodon, username="els@social.example", text="Ook de papierbak is vergeten"
    )
    log_in(page, "anouk")
    _open(page, live_server, on_x)
    panel = page.locator("aside.citizen-panel")
    expect(panel.locator(".history-item")).to_have_count(0)

    page.locator("#contact-link-query").fill("@els@social")
    link_button = page.locator(f"button[data-link-contact='{on_mastodon.contact_id}']")
    expect(link_button).to_be_visible()
    link_button.click()

    expect(panel.locator(".history-item")).to_have_count(1)
    expect(panel.locator(".history-first-line")).to_have_text("Ook de papierbak is vergeten")
    expect(panel.locator(".history-item")).to_contain_text("Mastodon")
    expect(panel.locator(f"[data-linked-contact-id='{on_mastodon.contact_id}']")).to_be_visible()
    assert_no_axe_violations(page)
    assert_no_page_errors(page)


def test_a_refresh_reloads_the_thread_and_state_but_keeps_the_reply_being_written(
    page, log_in, live_server, channel, agent, second_agent
):
    from playwright.sync_api import expect

    conversation = citizen_writes(channel, username="els", text="Eerste bericht")
    log_in(page, "anouk")
    _open(page, live_server, conversation)
    composer = page.locator("textarea[data-shortcut=reply]")
    composer.fill("Half geschreven antwoord")

    citizen_writes(
        channel, username="els", text="Tweede bericht", thread=conversation.external_thread_id
    )
    services.conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    page.evaluate(
        "for (const id of ['thread', 'conversation-state'])"
        " htmx.trigger(document.getElementById(id), 'webcare:refresh')"
    )

    expect(page.locator("ol#thread li.message")).to_have_count(2)
    expect(page.locator("#conversation-state")).to_contain_text("Bram Bakker")
    expect(composer).to_have_value("Half geschreven antwoord")
    assert_no_page_errors(page)
