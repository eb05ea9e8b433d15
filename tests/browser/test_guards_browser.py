"""The guards in a real browser: a public reply with a BSN is stopped until the agent gives a
reason (kept in the audit event); the flags on a citizen's message and the suggested answer
button; the JavaScript personal data detector agrees with Python on the labelled corpus."""

from __future__ import annotations

import re
from typing import Any

import pytest

from inbox.models import AuditEvent, Conversation, Message
from tests.browser.conftest import assert_no_axe_violations, assert_no_page_errors
from tests.inbox.helpers import citizen_writes
from tests.inbox.personal_data_corpus import ALLOWED, PERSONAL_DATA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VALID_BSN = "111222333"


def _open(page: Any, live_server: Any, conversation: Conversation) -> None:
    page.goto(f"{live_server.url}/conversations/{conversation.id}/")


def test_a_reply_with_a_bsn_is_stopped_until_the_agent_gives_a_reason(
    page, log_in, live_server, channel, agent
):
    from playwright.sync_api import expect

    conversation = citizen_writes(channel, username="els", text="Klopt mijn gegeven nog?")
    log_in(page, "anouk")
    _open(page, live_server, conversation)
    composer = page.locator("textarea[data-shortcut=reply]")
    composer.fill(f"@els Je BSN {VALID_BSN} staat goed in ons systeem")
    expect(page.locator("#personal-data-warning li[data-kind=bsn]")).to_be_visible()
    # The reason appears with the checkbox.
    reason = page.locator("#id_personal_data_reason")
    expect(reason).to_be_hidden()
    page.locator("#id_confirmed_personal_data").check()
    expect(reason).to_be_visible()
    assert_no_axe_violations(page)

    # The browser asks for the reason before anything is sent.
    page.locator("form.reply-form button[type=submit]").click()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()

    reason.fill("de burger publiceerde het zelf")
    page.locator("form.reply-form button[type=submit]").click()

    expect(page.locator("ol#thread li.message-outbound")).to_have_count(1)
    event = AuditEvent.objects.get(action="reply.queued")
    assert event.data["personal_data_confirmed"] == ["bsn"]
    assert event.data["personal_data_reason"] == "de burger publiceerde het zelf"
    assert VALID_BSN not in str(event.data)
    assert_no_page_errors(page)


def test_a_flagged_message_shows_its_badges_and_the_suggested_answer_fills_the_reply(
    page, log_in, live_server, channel, agent, settings
):
    from playwright.sync_api import expect

    settings.WEBCARE_FORMAL_REQUEST_URL = "https://demodorp.nl/bezwaar-en-klachten"
    conversation = citizen_writes(
        channel, username="els", text="Ik wil een klacht indienen, bel me op 06-12345678"
    )
    log_in(page, "anouk")
    _open(page, live_server, conversation)

    message = page.locator("ol#thread li.message-inbound")
    expect(message.locator(".guard-badge--personal-data")).to_be_visible()
    expect(message.locator(".guard-badge--formal-request")).to_be_visible()
    assert_no_axe_violations(page)

    page.locator("#guard-suggestion-complaint").click()

    composer = page.locator("textarea[data-shortcut=reply]")
    expect(composer).to_have_value(re.compile("demodorp.nl/bezwaar-en-klachten"))
    expect(composer).to_be_focused()
    # Filled in place by the script: the page did not reload.
    assert "suggest=" not in page.url
    assert_no_page_errors(page)


def test_the_javascript_agrees_with_python_on_the_whole_corpus(
    page, log_in, live_server, channel, agent
):
    from inbox.personal_data import Allowed, find_personal_data

    conversation = citizen_writes(channel, username="els")
    log_in(page, "anouk")
    _open(page, live_server, conversation)
    texts = [text for text, _kinds in PERSONAL_DATA]

    in_browser = page.evaluate(
        "([texts, allowed]) => texts.map((t) => window.webcarePersonalData.find(t, allowed)"
        ".map((f) => [f.kind, f.start, f.end, f.shown]))",
        [texts, ALLOWED],
    )

    allowed = Allowed.of(ALLOWED)
    in_python = [
        [[f.kind, f.start, f.end, f.shown] for f in find_personal_data(text, allowed=allowed)]
        for text in texts
    ]
    assert in_browser == in_python
    assert_no_page_errors(page)
