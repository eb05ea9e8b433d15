"""Every page outside the inbox and the conversation, in a real browser: axe finds nothing in
Dutch or in English, no script error or CSP violation happens, and nothing scrolls sideways
on a desktop (1280×720) or a tablet (820 px wide). One screenshot per page (Dutch) is kept.

Each test works through the pages of one role in one browser, switching the language with
the header's language switch as a user would.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from inbox.services import (
    canned_response_create,
    flagged_word_add,
    reply_create,
    routing_rule_create,
    team_create,
    team_member_add,
)
from tests.browser.conftest import (
    DESKTOP,
    TABLET,
    assert_no_axe_violations,
    assert_no_page_errors,
    new_page,
    save_screenshot,
)
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Swagger UI is a third-party component in English only (named as a known limitation in the
# accessibility statement); axe checks the rest of that page.
THIRD_PARTY = {"api-docs": ["#swagger-ui"]}
ENGLISH_ONLY = {"api-docs"}


def switch_language(page: Any, base_url: str, language: str) -> None:
    """With the header's language switch, on a page that has the header."""
    page.goto(f"{base_url}/toegankelijkheid/")
    page.locator("#language-select").select_option(language)
    page.locator(".language-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language


def assert_page_fits(page: Any, name: str) -> None:
    """No horizontal scrolling: everything reflows inside the window."""
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, f"{name} scrolls sideways at {page.viewport_size['width']} px"


def check_pages(page: Any, base_url: str, pages: dict[str, str], *, language: str) -> None:
    for name, path in pages.items():
        page.goto(base_url + path)
        page.wait_for_load_state("networkidle")
        if name not in ENGLISH_ONLY:
            assert page.locator("html").get_attribute("lang") == language, name
        assert_no_axe_violations(page, exclude=THIRD_PARTY.get(name))
        assert_page_fits(page, name)
        if language == "nl":
            save_screenshot(page, f"page-{name}")
        page.set_viewport_size(TABLET)
        assert_page_fits(page, name)
        assert_no_axe_violations(page, exclude=THIRD_PARTY.get(name))
        page.set_viewport_size(DESKTOP)
        assert_no_page_errors(page)


def log_in(page: Any, base_url: str, username: str) -> None:
    # Straight to the settings page: these tests are about the pages, not the inbox.
    page.goto(f"{base_url}/login/?next=/settings/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def test_the_pages_anyone_may_open_pass_axe_in_both_languages(browser, live_server) -> None:
    page = new_page(browser)
    pages = {"login": "/login/", "accessibility": "/toegankelijkheid/"}

    check_pages(page, live_server.url, pages, language="nl")
    switch_language(page, live_server.url, "en")
    check_pages(page, live_server.url, pages, language="en")

    assert page.locator("h1").inner_text() == "Accessibility statement"
    page.goto(f"{live_server.url}/accessibility/")
    assert page.locator("h1").inner_text() == "Accessibility statement"


def test_an_agents_pages_pass_axe_in_both_languages(browser, live_server, agent, channel) -> None:
    canned_response_create(
        actor=agent.user,
        shortcut="bedankt",
        title="Bedankt",
        text="Dank je wel, {{ naam }}! Groet, {{ agent_voornaam }}",
        shared=False,
    )
    page = new_page(browser)
    log_in(page, live_server.url, "anouk")
    pages = {
        "canned-list": "/canned/",
        "canned-form": "/canned/new/",
        "settings": "/settings/",
        "accessibility-staff": "/toegankelijkheid/",
        "api-docs": "/api/docs/",
    }

    check_pages(page, live_server.url, pages, language="nl")
    switch_language(page, live_server.url, "en")
    check_pages(page, live_server.url, pages, language="en")


def test_a_team_leads_pages_pass_axe_in_both_languages(
    browser, live_server, team_lead, agent, trainee, channel
) -> None:
    team = team_create(actor=team_lead.user, name="Afval", description="Containers en grofvuil")
    team_member_add(actor=team_lead.user, team_id=team.id, user_id=agent.user_id)
    rule = routing_rule_create(
        actor=team_lead.user, name="Afval", team_id=team.id, keywords="container\ngrofvuil"
    )
    flagged_word_add(actor=team_lead.user, word="excuses")
    conversation = citizen_writes(channel, text="Mijn container is niet geleegd", username="els")
    reply_create(
        conversation_id=conversation.id,
        actor=trainee.user,
        text="We komen morgen langs.",
        idempotency_key=uuid.uuid4(),
    )
    page = new_page(browser)
    log_in(page, live_server.url, "lotte")
    pages = {
        "approvals": "/approvals/",
        "teams": "/teams/",
        "routing-rules": "/routing/",
        "routing-rule-form": f"/routing/{rule.id}/",
        "dashboard": "/dashboard/",
    }

    check_pages(page, live_server.url, pages, language="nl")
    switch_language(page, live_server.url, "en")
    check_pages(page, live_server.url, pages, language="en")


def test_ticking_desktop_notifications_asks_the_browser_and_says_what_it_answered(
    browser, live_server, agent
) -> None:
    from playwright.sync_api import expect

    # Headless chromium answers a permission request with "denied", like a user who said no.
    refused = new_page(browser)
    log_in(refused, live_server.url, "anouk")
    refused.locator("#id_notify_desktop").check()

    expect(refused.locator('#notify-desktop-status [data-permission="denied"]')).to_be_visible()
    assert refused.evaluate("Notification.permission") == "denied"
    assert_no_axe_violations(refused)
    assert_no_page_errors(refused)

    allowed = new_page(browser)
    allowed.context.grant_permissions(["notifications"], origin=live_server.url)
    log_in(allowed, live_server.url, "anouk")
    allowed.locator("#id_notify_desktop").check()
    expect(allowed.locator('#notify-desktop-status [data-permission="granted"]')).to_be_visible()
    expect(allowed.locator('#notify-desktop-status [data-permission="denied"]')).to_be_hidden()
    allowed.locator('[data-settings-save="preferences"]').click()
    allowed.wait_for_load_state()

    expect(allowed.locator("#id_notify_desktop")).to_be_checked()
    agent.refresh_from_db()
    assert agent.notify_desktop is True
    assert_no_page_errors(allowed)
