"""The team lead's dashboard in a real browser, in Dutch and in English: axe finds nothing,
every chart has its table behind it, the controls work without JavaScript, no script error or
CSP violation happens. A screenshot (Dutch) is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from inbox.models import CycleFact, MetricsHour, WaitFact
from tests.browser.conftest import (
    assert_no_axe_violations,
    assert_no_page_errors,
    new_page,
    save_screenshot,
)
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def some_figures(channel: Any, agent: Any) -> None:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for day in range(7):
        for hour in (9, 13, 20):
            MetricsHour.objects.create(
                hour=now - timedelta(days=day, hours=hour),
                channel=channel,
                messages_in=3 + day + hour % 5,
                messages_answered=3 + day,
                replies_sent=2 + day,
                cycles_started=2,
                cycles_resolved=1,
                waits_started=2,
                waits_ended=2,
            )
    conversation = citizen_writes(channel, sent_at=timezone.now() - timedelta(minutes=50))
    for number, minutes in enumerate([5, 20, 45, 90, 300, 2000], start=1):
        at = timezone.now() - timedelta(days=number % 6)
        CycleFact.objects.create(
            conversation=conversation,
            number=number,
            channel=channel,
            priority=2,
            is_private=False,
            started_at=at - timedelta(minutes=minutes),
            first_response_at=at,
            first_responder=agent.user,
            first_response_calendar_seconds=minutes * 90,
            first_response_working_seconds=minutes * 60,
        )
        WaitFact.objects.create(
            conversation=conversation,
            cycle_number=number,
            channel=channel,
            priority=2,
            is_private=False,
            is_first_in_cycle=True,
            started_at=at - timedelta(minutes=minutes),
            ended_at=at,
            outcome="answered",
            responder=agent.user,
            calendar_seconds=minutes * 90,
            working_seconds=minutes * 60,
            handling_working_seconds=minutes * 30,
            handling_calendar_seconds=minutes * 45,
        )


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_dashboard_is_accessible_and_every_chart_has_its_table(
    browser, live_server, log_in, channel, agent, team_lead, language
):
    some_figures(channel, agent)
    page = new_page(browser)
    log_in(page, "lotte")
    if language != "nl":
        # With the header's language switch, as a user would.
        page.goto(f"{live_server.url}/toegankelijkheid/")
        page.locator("#language-select").select_option(language)
        page.locator(".language-form button[type=submit]").click()
        page.wait_for_load_state()

    page.goto(f"{live_server.url}/dashboard/")

    assert page.locator("html").get_attribute("lang") == language
    if language == "nl":
        save_screenshot(page, "dashboard")
        page.locator("#figures-heading").scroll_into_view_if_needed()
        save_screenshot(page, "dashboard-figures")
        page.locator("#charts-heading").scroll_into_view_if_needed()
        save_screenshot(page, "dashboard-charts")
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() == 5
    for index in range(charts.count()):
        figure = page.locator("figure.chart-figure").nth(index)
        assert figure.locator("svg title").count() == 1
        figure.locator("details summary").click()
        assert figure.locator("details table caption").is_visible()
    assert_no_axe_violations(page)

    # The controls are a plain GET form: the choice lands in the URL.
    page.locator("#dashboard-range").select_option("30d")
    page.locator("#dashboard-group").select_option("channel")
    page.locator(".dashboard-controls button[type=submit]").click()
    page.wait_for_url(lambda url: "range=30d" in url and "group=channel" in url)
    grouped = page.locator("section[aria-labelledby=grouped-heading]")
    assert grouped.locator("table caption").first.is_visible()
    assert grouped.locator("tbody th", has_text=channel.name).first.is_visible()
    assert_no_axe_violations(page)
    assert_no_page_errors(page)
    page.context.close()
