"""Collision detection in two real browsers: two agents in one conversation see each other,
see each other type, and one cannot send on top of a new message without confirming."""

from __future__ import annotations

import re

import pytest
import redis
from django.conf import settings

from inbox.models import Message
from tests.browser.conftest import new_page
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_collision_state_from_earlier_tests() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("webcare:collision:*"):
        client.delete(key)


def log_in_new_page(browser, log_in, username: str):  # type: ignore[no-untyped-def]
    page = new_page(browser)
    log_in(page, username)
    return page


def test_two_agents_see_each_other_typing_and_a_new_message_needs_confirmation(
    browser, log_in, live_server, channel, agent, second_agent
):
    from playwright.sync_api import expect

    conversation = citizen_writes(channel, text="De brug klemt weer", username="joris")
    url = f"{live_server.url}/conversations/{conversation.id}/"
    anouk = log_in_new_page(browser, log_in, agent.user.username)
    bram = log_in_new_page(browser, log_in, second_agent.user.username)

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
