"""Search in a real browser: from the header box to the results, with axe checking the
results page and the help (empty search) on a desktop and a tablet."""

from __future__ import annotations

from typing import Any

import pytest

from inbox.services import note_create
from tests.browser.conftest import (
    TABLET,
    assert_no_axe_violations,
    assert_no_page_errors,
    new_page,
    save_screenshot,
)
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits_the_window(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_agent_searches_from_the_header_and_gets_highlighted_results(
    page, live_server, log_in, channel, agent
):
    from playwright.sync_api import expect

    conversation = citizen_writes(
        channel, username="jdevries", text="<b>Mijn</b> containers zijn niet geleegd"
    )
    citizen_writes(channel, username="pbakker", text="De lantaarnpaal is kapot")
    note_create(conversation_id=conversation.id, actor=agent.user, text="Container besteld")
    log_in(page, agent.user.username)

    search_box = page.locator('form[role=search] input[type=search][data-shortcut="search"]')
    search_box.fill("container")
    search_box.press("Enter")

    page.wait_for_url(lambda url: "/search/?q=container" in url)
    hits = page.locator('#search-messages [data-search-hit="message"]')
    expect(hits).to_have_count(1)
    expect(hits.locator(".search-snippet mark")).to_have_text("containers")
    # Citizen HTML is shown as text, not interpreted.
    expect(hits.locator(".search-snippet")).to_contain_text("<b>Mijn</b>")
    expect(page.locator('#search-notes [data-search-hit="note"]')).to_have_count(1)
    expect(page.locator("#search-query")).to_have_value("container")
    expect(search_box).to_have_value("container")
    assert_no_axe_violations(page)
    save_screenshot(page, "search-results")

    hits.locator("a.search-hit-link").click()
    page.wait_for_url(lambda url: f"/conversations/{conversation.id}/" in url)
    assert_no_page_errors(page)


def test_the_help_and_the_filters_work_on_a_tablet(browser, live_server, log_in, channel, agent):
    from playwright.sync_api import expect

    citizen_writes(channel, username="anna", text="Wanneer wordt het grofvuil ophalen gepland?")
    page = new_page(browser, viewport=TABLET)
    log_in(page, agent.user.username)

    page.goto(f"{live_server.url}/search/")
    expect(page.locator("#search-help")).to_be_visible()
    assert _fits_the_window(page)
    assert_no_axe_violations(page)

    page.locator("#search-query").fill('"grofvuil ophalen"')
    page.locator("#search-filters summary").click()
    page.locator("#id_direction").select_option("inbound")
    page.locator("#search-submit").click()
    page.wait_for_url(lambda url: "direction=inbound" in url)
    expect(page.locator('[data-search-hit="message"] mark')).to_have_text(["grofvuil", "ophalen"])
    # A filter in use keeps the filters open, so the agent sees what narrows the results.
    expect(page.locator("#id_direction")).to_be_visible()
    assert _fits_the_window(page)
    assert_no_axe_violations(page)
    assert_no_page_errors(page)
    page.context.close()
