"""The administrators' pages in a real browser: the hub, staff accounts (a role change),
channels with masked credentials, the audit log filtered; axe on each, in Dutch and English."""

from __future__ import annotations

from typing import Any

import pytest

from channels.sandbox import DEMO_CREDENTIALS
from inbox.models import AgentProfile
from tests.browser.conftest import (
    assert_no_axe_violations,
    assert_no_page_errors,
    new_page,
    save_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _walk_the_administration(
    page: Any, live_server: Any, channel: Any, agent: Any, tag: str
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/administration/")
    assert_no_axe_violations(page)

    page.locator('a[href="/administration/staff/"]').click()
    page.wait_for_url(lambda url: url.endswith("/administration/staff/"))
    assert_no_axe_violations(page)
    save_screenshot(page, f"administration-staff-{tag}")
    row = page.locator("tr", has=page.locator(f"#role-{agent.user_id}"))
    row.locator(f"#role-{agent.user_id}").select_option("team_lead")
    row.locator("button[type=submit]").first.click()
    page.wait_for_load_state()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(f"#role-{agent.user_id}")).to_have_value("team_lead")
    assert_no_axe_violations(page)

    page.goto(f"{live_server.url}/administration/channels/")
    assert_no_axe_violations(page)
    page.locator(f'a[href="/administration/channels/{channel.pk}/"]').click()
    page.wait_for_url(lambda url: url.endswith(f"/administration/channels/{channel.pk}/"))
    content = page.content()
    for secret in DEMO_CREDENTIALS.values():
        assert secret not in content
    assert_no_axe_violations(page)
    save_screenshot(page, f"administration-channel-{tag}")

    page.goto(f"{live_server.url}/administration/audit/")
    page.locator("#id_action").fill("staff.")
    page.locator(".audit-filter-form button[type=submit]").click()
    page.wait_for_url(lambda url: "action=staff." in url)
    expect(page.locator(".audit-table tbody tr").first).to_contain_text("staff.role_changed")
    assert_no_axe_violations(page)
    save_screenshot(page, f"administration-audit-{tag}")
    assert_no_page_errors(page)


def test_an_administrator_walks_the_administration_in_dutch(
    page, live_server, log_in, channel, agent, administrator
):
    log_in(page, administrator.user.username)
    _walk_the_administration(page, live_server, channel, agent, "nl")
    agent.refresh_from_db()
    assert agent.role == AgentProfile.Role.TEAM_LEAD


def test_an_administrator_walks_the_administration_in_english(
    browser, live_server, log_in, channel, agent, administrator
):
    page = new_page(browser)
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    log_in(page, administrator.user.username)
    page.goto(f"{live_server.url}/administration/")
    assert page.locator("html").get_attribute("lang") == "en"
    _walk_the_administration(page, live_server, channel, agent, "en")
    page.context.close()
