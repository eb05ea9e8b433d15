"""One agent's whole path in a real browser: log in, open a conversation, reply, see it sent."""

from __future__ import annotations

import pytest

from channels.services import channel_poll
from inbox.models import Message
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def poll_in(channel, text: str) -> None:  # type: ignore[no-untyped-def]
    """Poll the sandbox into the inbox. The worker may have stored the message already: the
    channel's first poll is queued when the channel is created, and it can still be running
    when the citizen writes. Either way the message is there exactly once."""
    assert channel_poll(channel_id=channel.id).succeeded
    assert Message.objects.filter(channel=channel, text__contains=text).count() == 1


def test_an_agent_logs_in_answers_a_citizen_and_sees_the_reply_sent(
    page, live_server, celery_worker, channel, sandbox, agent
):
    from playwright.sync_api import expect

    text = "De lantaarnpaal voor Kerkstraat 12 is al een week kapot 💡"
    sandbox.add_mention(text=text, username="els", name="Els")
    poll_in(channel, text)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Gebruikersnaam").fill(agent.user.username)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    # "All open": the citizen is there whether or not the worker assigned them already.
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/?queue=all")

    page.get_by_role("link", name="Els").first.click()
    expect(page.get_by_text("lantaarnpaal voor Kerkstraat 12")).to_be_visible()
    composer = page.get_by_label("Je antwoord")
    send = page.get_by_role("button", name="Antwoord versturen")
    # X counts an emoji as two characters: 150 of them are 300, too long to send.
    composer.fill("🙂" * 150)
    expect(page.locator("#reply-counter")).to_have_text("300 van 280 tekens")
    expect(send).to_be_disabled()
    composer.fill("Dank je, Els! We sturen vandaag een monteur.")
    expect(send).to_be_enabled()
    page.get_by_role("button", name="Antwoord versturen").click()

    expect(page.get_by_test_id("delivery-status")).to_have_text("Verstuurd", timeout=30_000)
    expect(page.locator("#conversation-status")).to_have_text("Open")
    [posted] = sandbox.replies()
    assert posted["text"] == "Dank je, Els! We sturen vandaag een monteur."


def test_an_agent_answers_with_a_canned_response_picked_by_typing_a_shortcut(
    page, live_server, celery_worker, channel, sandbox, agent, team_lead
):
    from playwright.sync_api import expect

    from inbox.services import canned_response_create

    canned_response_create(
        actor=team_lead.user,
        shortcut="afval-ophaaldag",
        title="Afval: ophaaldag",
        text="Hoi {{ naam }}, je container wordt dinsdag geleegd. Groet, {{ agent_voornaam }}",
        shared=True,
    )
    sandbox.add_mention(text="Wanneer wordt mijn container geleegd?", username="els", name="Els")
    poll_in(channel, "Wanneer wordt mijn container geleegd?")

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Gebruikersnaam").fill(agent.user.username)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    # "All open": the citizen is there whether or not the worker assigned them already.
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/?queue=all")
    page.get_by_role("link", name="Els").first.click()

    composer = page.get_by_label("Je antwoord")
    composer.press_sequentially("/afval")
    expect(page.locator("#canned-count")).to_have_text("1 standaardantwoord gevonden.")
    page.get_by_role("button", name="/afval-ophaaldag Afval: ophaaldag").click()
    expected = "Hoi Els, je container wordt dinsdag geleegd. Groet, Anouk"
    expect(composer).to_have_value(expected)
    expect(composer).to_be_focused()
    page.get_by_role("button", name="Antwoord versturen").click()

    expect(page.get_by_test_id("delivery-status")).to_have_text("Verstuurd", timeout=30_000)
    [posted] = sandbox.replies()
    assert posted["text"] == expected
