"""Collision detection in two real browsers: two agents in one conversation see each other,
see each other type, and one cannot send on top of a new message without confirming."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from inbox.models import Message
from tests.conftest import PASSWORD, browser_required
from tests.inbox.helpers import citizen_writes
from tests.test_browser import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        if browser_required():
            pytest.fail(
                f"Chromium is required (WEBCARE_REQUIRE_BROWSER=1) but {CHROMIUM} is missing"
            )
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("webcare:collision:*"):
        client.delete(key)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        yield browser
        browser.close()


def log_in(browser, live_server, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(locale="nl-NL").new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    return page


def test_two_agents_see_each_other_typing_and_a_new_message_needs_confirmation(
    browser, live_server, channel, agent, second_agent
):
    from playwright.sync_api import expect

    conversation = citizen_writes(channel, text="De brug klemt weer", username="joris")
    url = f"{live_server.url}/conversations/{conversation.id}/"
    anouk = log_in(browser, live_server, agent.user.username)
    bram = log_in(browser, live_server, second_agent.user.username)

    anouk.goto(url)
    bram.goto(url)

    expect(anouk.locator("#collision-activity")).to_contain_text("Bram Bakker", timeout=10_000)
    expect(bram.locator("#collision-activity")).to_contain_text("Anouk Jansen", timeout=10_000)
    anouk.locator("#id_text").press_sequentially("We kijken er")
    expect(bram.locator("#collision-activity")).to_contain_text(
        re.compile(r"Anouk Jansen (is typing|typt)"), timeout=10_000
    )

    citizen_writes(
        channel, text="Nu staat hij open!", username="joris", thread=conversation.external_thread_id
    )
    expect(bram.locator("#collision-activity")).to_contain_text(
        "Nu staat hij open!", timeout=10_000
    )
    bram.locator("#id_text").fill("Een monteur is onderweg.")
    bram.locator("form.reply-form button[type=submit]").click()

    expect(bram.get_by_role("alert")).to_be_visible()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    expect(bram.locator("#id_text")).to_have_value("Een monteur is onderweg.")
    bram.locator("input[name=confirmed_despite_newer]").check()
    bram.locator("form.reply-form button[type=submit]").click()

    expect(bram.get_by_test_id("delivery-status")).to_be_visible()
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).author_user == (
        second_agent.user
    )
