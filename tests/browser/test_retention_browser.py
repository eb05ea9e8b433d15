"""The retention page in a real browser: an administrator changes the default policy, asks
for a dry run, reaches the confirmation of a real run, and axe finds nothing on the way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from inbox.models import Conversation, RetentionPolicy
from tests.browser.conftest import assert_no_axe_violations, assert_no_page_errors
from tests.inbox.privacy_helpers import resolved_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_sets_the_default_policy_and_sees_the_dry_run(
    page: Any, live_server: Any, log_in: Any, administrator: Any, agent: Any, channel: Any
) -> None:
    resolved_history(channel, agent, at=timezone.now() - timedelta(days=300))
    log_in(page, "femke")
    page.goto(f"{live_server.url}/administration/retention/")
    assert_no_axe_violations(page)

    default = page.locator(".retention-policy").first
    default.locator("summary").click()
    default.locator("#policy-default-months_after_resolution").fill("6")
    default.locator("#policy-default-require_archive").uncheck()
    with page.expect_navigation():
        default.locator("button[type=submit]").click()

    policy = RetentionPolicy.objects.get(channel__isnull=True)
    assert (policy.months_after_resolution, policy.require_archive) == (6, False)

    with page.expect_navigation():
        page.locator(".retention-actions button").first.click()
    report = page.locator(".retention-report").inner_text()
    assert channel.name in report
    assert "1" in report
    assert_no_axe_violations(page)

    with page.expect_navigation():
        page.locator(".retention-actions button").nth(1).click()
    assert page.locator(".retention-confirm").is_visible()
    assert_no_axe_violations(page)
    assert not Conversation.objects.filter(anonymised_at__isnull=False).exists()
    assert_no_page_errors(page)


def test_a_wrong_term_is_announced_next_to_its_field(
    page: Any, live_server: Any, log_in: Any, administrator: Any
) -> None:
    log_in(page, "femke")
    page.goto(f"{live_server.url}/administration/retention/")
    default = page.locator(".retention-policy").first
    default.locator("summary").click()
    default.locator("#policy-default-months_after_resolution").fill("0")
    with page.expect_navigation():
        default.locator("button[type=submit]").click()

    field = page.locator("#policy-default-months_after_resolution")
    assert field.get_attribute("aria-describedby") == "policy-default-months_after_resolution-error"
    assert page.locator("#policy-default-months_after_resolution-error").is_visible()
    assert_no_axe_violations(page)
